//! One operator session, independent of the front end: login, mode, privilege, tenant scope,
//! and the text in/text out of each command line (parse, run, filter). An in-band session
//! ([`SessionState::scope`]) is confined to the logical router it was opened on: only users
//! of that router's tenant may log in, every user (an administrator too) sees only that
//! tenant, the prompt is the router's name and `show ip route` shows that router's table. The console and the
//! telnet server both drive a [`Session`]; paging and editing belong to the front ends.

use crate::commands::{self, CmdError, Exec, Handler};
use crate::filter::{self, Filter};
use crate::tree::{Choice, Choices, CommandTree, ParamKind, Parsed};
use crate::ShellContext;
use rib::topology::schema::{CliStyle, UserConfig, UserRole};
use rib::topology::{PortBinding, Topology};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// CLI modes, IOS style.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `host>` / `host#`
    Exec,
    /// `host(config)#`
    Config,
    /// `host(config-if)#`
    ConfigIf,
    /// `host(config-vrf)#` (a tenant context)
    ConfigVrf,
}

/// Longest command line accepted.
pub const MAX_LINE: usize = 1024;

/// Commands for administrators only (their handlers refuse anybody else): `?` and Tab never
/// offer them to a tenant user, so a tenant's view does not even name the substrate.
pub const ADMIN_ONLY: &[(Mode, &[&str])] = &[
    (Mode::Exec, &["show", "substrate"]),
    (Mode::Exec, &["show", "logging"]),
    (Mode::Exec, &["show", "processes"]),
    (Mode::Exec, &["show", "snmp"]),
    (Mode::Exec, &["clear"]),
    (Mode::Exec, &["write"]),
    (Mode::Exec, &["copy"]),
    (Mode::Config, &["substrate"]),
];

/// The command tree, built once.
pub fn tree() -> &'static CommandTree<Handler> {
    static TREE: OnceLock<CommandTree<Handler>> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut t = CommandTree::new();
        for def in commands::all() {
            t.add(&def);
        }
        for (mode, path) in ADMIN_ONLY {
            t.mark_admin_only(*mode, path);
        }
        t
    })
}

/// The logged-in user as the session sees it.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub admin: bool,
    /// Tenants this user may see (all for admin).
    pub tenants: Vec<String>,
    pub max_privilege: u8,
    pub style: CliStyle,
    pub aliases: Vec<(String, String)>,
}

impl User {
    fn from_config(u: &UserConfig) -> User {
        User {
            name: u.name.clone(),
            admin: u.role == UserRole::Admin,
            tenants: u.tenants.clone(),
            max_privilege: u.privilege.min(15),
            style: u.cli_style,
            aliases: u.aliases.iter().map(|(a, b)| (a.clone(), b.clone())).collect(),
        }
    }
    /// The implicit console user when the topology defines no users.
    pub fn local_admin() -> User {
        User {
            name: "console".into(),
            admin: true,
            tenants: Vec::new(),
            max_privilege: 15,
            style: CliStyle::Ios,
            aliases: Vec::new(),
        }
    }
}

/// Mutable per-session state that handlers read and change.
pub struct SessionState {
    pub user: User,
    /// `con 0` or `vty N`.
    pub line: String,
    /// Peer address (`127.0.0.1:40000`) or `console`.
    pub source: String,
    pub mode: Mode,
    /// Current privilege (1 after `disable`).
    pub privilege: u8,
    /// Port selected by `interface NAME`.
    pub interface: Option<String>,
    /// Tenant selected by `vrf context NAME`.
    pub vrf_context: Option<String>,
    /// Tenant selected by `routing-context vrf NAME` in exec mode.
    pub routing_context: Option<String>,
    /// `terminal length`: None = front end default (NAWS height), Some(0) = no paging.
    pub term_length: Option<usize>,
    /// Set when the session should end (logout/exit).
    pub closed: bool,
    pub login_time: Instant,
    /// Registry id (for `show users`).
    pub registry_id: u64,
    /// In-band sessions: the logical router the connection arrived on (None elsewhere).
    pub scope: Option<crate::vty::RouterScope>,
}

impl SessionState {
    /// True when the user may see tenant `name`.
    pub fn can_see_tenant(&self, name: &str) -> bool {
        self.user.admin || self.user.tenants.iter().any(|t| t == name)
    }
    /// The tenants this user may see, in topology order.
    pub fn visible_tenants(&self, topo: &Topology) -> Vec<String> {
        topo.tenants.iter().map(|t| t.name.clone()).filter(|n| self.can_see_tenant(n)).collect()
    }
    /// True when the user may see port `name` (admins: all; tenants: their access ports).
    pub fn can_see_port(&self, topo: &Topology, name: &str) -> bool {
        let Some(p) = topo.port_by_name(name) else { return self.user.admin };
        match p.binding {
            _ if self.user.admin => true,
            PortBinding::Access { tenant, .. } => {
                topo.tenants.get(tenant.index()).is_some_and(|t| self.can_see_tenant(&t.name))
            }
            PortBinding::Uplink { .. } => false,
        }
    }
}

/// What a command line produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Text with `\n` line ends.
    pub text: String,
    /// Whether the output may be paged (`show` output, not errors).
    pub pageable: bool,
}

/// Result of a login attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginResult {
    Ok,
    /// Right password, but the user may not log in here (an in-band session on a router of
    /// a tenant the user does not belong to). The message is for the user; it was audited.
    Denied {
        message: String,
    },
    /// Wrong user or password; wait this long before the next prompt.
    Failed {
        delay: Duration,
    },
}

/// One session: context plus state.
pub struct Session {
    pub ctx: Arc<ShellContext>,
    pub state: SessionState,
}

struct ScopeChoices<'a> {
    state: &'a SessionState,
    topo: &'a Topology,
}

impl Choices for ScopeChoices<'_> {
    fn admin(&self) -> bool {
        self.state.user.admin
    }

    fn choices(&self, kind: ParamKind) -> Vec<Choice> {
        match kind {
            ParamKind::Vrf => self
                .topo
                .tenants
                .iter()
                .filter(|t| self.state.can_see_tenant(&t.name))
                .map(|t| Choice {
                    value: t.name.clone(),
                    help: format!("VPN Routing/Forwarding instance (tenant {})", t.name),
                })
                .collect(),
            ParamKind::Interface => self
                .topo
                .ports
                .iter()
                .filter(|p| self.state.can_see_port(self.topo, &p.name))
                .map(|p| {
                    let help = match &p.binding {
                        PortBinding::Access { tenant, subnet, .. } => format!(
                            "Access port of tenant {} ({subnet})",
                            self.topo.tenants.get(tenant.index()).map_or("?", |t| t.name.as_str())
                        ),
                        PortBinding::Uplink { address, .. } => format!("Substrate uplink ({address})"),
                    };
                    Choice { value: p.name.clone(), help }
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl Session {
    /// A session not yet logged in (user is a placeholder until [`Session::login`]).
    pub fn new(ctx: Arc<ShellContext>, line: &str, source: &str) -> Session {
        let registry_id = ctx.sessions.register(line, source);
        Session {
            ctx,
            state: SessionState {
                user: User {
                    name: String::new(),
                    admin: false,
                    tenants: Vec::new(),
                    max_privilege: 0,
                    style: CliStyle::Ios,
                    aliases: Vec::new(),
                },
                line: line.to_string(),
                source: source.to_string(),
                mode: Mode::Exec,
                privilege: 0,
                interface: None,
                vrf_context: None,
                routing_context: None,
                term_length: None,
                closed: false,
                login_time: Instant::now(),
                registry_id,
                scope: None,
            },
        }
    }

    /// Whether the topology defines any users (else the console logs in implicitly).
    pub fn users_defined(&self) -> bool {
        !self.ctx.rib.topology().file.users.is_empty()
    }

    /// How much longer this session's source address is refused after too many failed
    /// logins (`None`: it may try). Front ends check it before prompting.
    /// A refusal is audited.
    pub fn login_blocked(&self) -> Option<Duration> {
        if self.state.line.starts_with("con") {
            return None;
        }
        let left = self.ctx.throttle.blocked(&source_host(&self.state.source))?;
        let source = &self.state.source;
        self.ctx.audit.log(
            "SEC_LOGIN",
            crate::audit::Severity::Warning,
            "LOGIN_BLOCKED",
            "",
            source,
            format!(
                "Login refused [user: ] [Source: {source}] [Reason: source blocked for {} more seconds after repeated failures]",
                left.as_secs().max(1)
            ),
        );
        Some(left)
    }

    /// Checks a user name and password against the topology; logs the outcome (success,
    /// failure, refusal and the start of a block, each with user and source); a failure returns
    /// the delay the front end must wait (growing per source address). Every attempt that is
    /// not refused runs exactly one password hash, also for an unknown user name; an attempt
    /// from a blocked source runs none and fails.
    pub fn login(&mut self, username: &str, password: &str) -> LoginResult {
        let topo = self.ctx.rib.topology();
        let throttle = &self.ctx.throttle;
        let host = source_host(&self.state.source);
        let source = self.state.source.clone();
        // The local console is never blocked (its operator is at the machine); it is still
        // delayed and audited.
        let console = self.state.line.starts_with("con");
        if let Some(left) = throttle.blocked(&host).filter(|_| !console) {
            self.ctx.audit.log(
                "SEC_LOGIN",
                crate::audit::Severity::Warning,
                "LOGIN_BLOCKED",
                username,
                &source,
                format!(
                    "Login refused [user: {username}] [Source: {source}] [Reason: source blocked for {} more seconds after repeated failures]",
                    left.as_secs().max(1)
                ),
            );
            return LoginResult::Failed { delay: Duration::ZERO };
        }
        let user = topo.file.users.iter().find(|u| u.name == username);
        // The dummy hash of an unknown user costs what the configured users' hashes cost.
        let dummy_iterations = topo
            .file
            .users
            .iter()
            .find_map(|u| rib::topology::password::parse_password_hash(&u.password_hash).ok())
            .map_or(crate::auth::LoginThrottle::default_iterations(), |h| h.iterations);
        if throttle.check(password, user.map(|u| u.password_hash.as_str()), dummy_iterations) {
            if let Some(u) = user {
                throttle.succeed(&host);
                if let Some(denied) = self.scope_denies(u) {
                    return denied;
                }
                self.become_user(User::from_config(u));
                return LoginResult::Ok;
            }
        }
        let outcome = throttle.fail(&host);
        self.ctx.audit.log(
            "SEC_LOGIN",
            crate::audit::Severity::Warning,
            "LOGIN_FAILED",
            username,
            &source,
            format!("Login failed [user: {username}] [Source: {source}] [Reason: Invalid login]"),
        );
        if let Some(block) = outcome.blocked_for.filter(|_| !console) {
            let p = throttle.block;
            self.ctx.audit.log(
                "SEC_LOGIN",
                crate::audit::Severity::Alert,
                "QUIET_MODE_ON",
                username,
                &source,
                format!(
                    "Blocking logins from {host} for {} seconds: {} failed logins within {} seconds [user: {username}] [Source: {source}]",
                    block.as_secs(),
                    p.attempts,
                    p.within.as_secs()
                ),
            );
        }
        LoginResult::Failed { delay: outcome.delay }
    }

    /// An in-band session refuses (and audits) a user who is neither an administrator nor a
    /// user of the scope's tenant.
    fn scope_denies(&self, u: &UserConfig) -> Option<LoginResult> {
        let scope = self.state.scope.as_ref()?;
        if u.role == UserRole::Admin || u.tenants.contains(&scope.tenant) {
            return None;
        }
        let source = &self.state.source;
        self.ctx.audit.log(
            "SEC_LOGIN",
            crate::audit::Severity::Warning,
            "LOGIN_REFUSED",
            &u.name,
            source,
            format!(
                "Login refused [user: {}] [Source: {source}] [line: {}] [Reason: not allowed on router {} of vrf {}]",
                u.name, self.state.line, scope.router, scope.tenant
            ),
        );
        Some(LoginResult::Denied {
            message: format!("% Access denied: user {} is not allowed on router {}", u.name, scope.router),
        })
    }

    /// Starts the session as `user` (after authentication). In an in-band session the user
    /// is confined to the scope's tenant, an administrator too (no substrate, no other
    /// tenant, no administrator-only command).
    pub fn become_user(&mut self, mut user: User) {
        if let Some(scope) = &self.state.scope {
            user.admin = false;
            user.tenants = vec![scope.tenant.clone()];
        }
        self.state.privilege = if user.max_privilege >= 15 { 15 } else { user.max_privilege.max(1) };
        self.state.mode = Mode::Exec;
        self.state.login_time = Instant::now();
        self.ctx.audit.log(
            "SEC_LOGIN",
            crate::audit::Severity::Notice,
            "LOGIN_SUCCESS",
            &user.name,
            &self.state.source,
            format!(
                "Login Success [user: {}] [Source: {}] [line: {}]",
                user.name, self.state.source, self.state.line
            ),
        );
        self.ctx.sessions.touch(self.state.registry_id, &user.name);
        self.state.user = user;
    }

    /// The prompt for the current mode: `vnswitch>`, `vnswitch#`, `vnswitch(config)#`, ...
    pub fn prompt(&self) -> String {
        let host = match &self.state.scope {
            Some(scope) => &scope.router,
            None => &self.ctx.hostname,
        };
        let ctx = self.state.routing_context.as_ref().map(|t| format!("%{t}")).unwrap_or_default();
        match self.state.mode {
            Mode::Exec if self.state.privilege >= 15 => format!("{host}{ctx}#"),
            Mode::Exec => format!("{host}{ctx}>"),
            Mode::Config => format!("{host}(config)#"),
            Mode::ConfigIf => format!("{host}(config-if)#"),
            Mode::ConfigVrf => format!("{host}(config-vrf)#"),
        }
    }

    /// Whether a user has logged in (or was made the session's user) yet.
    pub fn logged_in(&self) -> bool {
        !self.state.user.name.is_empty()
    }

    /// Whether the session has ended (logout, exit from exec).
    pub fn closed(&self) -> bool {
        self.state.closed
    }

    /// Records activity for `show users`.
    pub fn touch(&self) {
        self.ctx.sessions.touch(self.state.registry_id, &self.state.user.name);
    }

    /// Ends the session: logs it and leaves the registry.
    pub fn logout(&mut self, reason: &str) {
        if !self.state.user.name.is_empty() {
            self.ctx.audit.log(
                "SYS",
                crate::audit::Severity::Info,
                "LOGOUT",
                &self.state.user.name,
                &self.state.source,
                format!(
                    "User {} has exited tty session {} ({reason})",
                    self.state.user.name, self.state.line
                ),
            );
        }
        self.state.closed = true;
    }

    /// Expands a user alias in the first word.
    fn expand_alias(&self, line: &str) -> String {
        let trimmed = line.trim_start();
        let first = trimmed.split_whitespace().next().unwrap_or("");
        for (alias, expansion) in &self.state.user.aliases {
            if alias == first {
                return format!("{expansion}{}", &trimmed[first.len()..]);
            }
        }
        line.to_string()
    }

    fn mode_for_parse(&self, line: &str) -> (Mode, String) {
        // `do CMD` in configuration modes runs an exec command.
        if self.state.mode != Mode::Exec {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix("do ") {
                let offset = line.len() - rest.len();
                return (Mode::Exec, format!("{}{rest}", " ".repeat(offset)));
            }
        }
        (self.state.mode, line.to_string())
    }

    /// Runs one command line and returns its output (errors included, IOS style).
    pub fn execute(&mut self, raw: &str) -> Output {
        self.touch();
        if raw.len() > MAX_LINE {
            return Output { text: "% Line too long.\n".into(), pageable: false };
        }
        let prompt_len = self.prompt().chars().count();
        let line = self.expand_alias(raw);
        let (command_part, filter_part) = match line.find('|') {
            Some(i) => (&line[..i], Some((i, &line[i + 1..]))),
            None => (&line[..], None),
        };
        let filter = match filter_part {
            None => None,
            Some((pipe_col, text)) => match filter::parse(text) {
                Ok(f) => Some(f),
                Err(filter::FilterError::Invalid(col)) => {
                    return invalid(prompt_len + pipe_col + 1 + col);
                }
                Err(filter::FilterError::Incomplete) => {
                    return Output { text: "% Incomplete command.\n\n".into(), pageable: false }
                }
                Err(filter::FilterError::Regex(msg)) => {
                    return Output { text: format!("% Invalid regular expression: {msg}\n"), pageable: false }
                }
            },
        };
        let (mode, parse_line) = self.mode_for_parse(command_part);
        let topo = self.ctx.rib.topology();
        let choices = ScopeChoices { state: &self.state, topo: &topo };
        let parsed = tree().parse(mode, &parse_line, self.state.privilege, &choices);
        match parsed {
            Parsed::Empty => Output::default(),
            Parsed::Ambiguous => {
                Output { text: format!("% Ambiguous command:  \"{}\"\n", line.trim()), pageable: false }
            }
            Parsed::Incomplete => Output { text: "% Incomplete command.\n\n".into(), pageable: false },
            Parsed::Invalid { col } => {
                // A command hidden by privilege: still refused the IOS way, but audited.
                if self.state.privilege < 15 {
                    let full = tree().parse(mode, &parse_line, 15, &choices);
                    if !matches!(full, Parsed::Invalid { col: c } if c <= col) {
                        self.ctx.audit.refused(
                            &self.state.user.name,
                            &self.state.source,
                            &format!("'{}' (privilege {} insufficient)", line.trim(), self.state.privilege),
                        );
                    }
                }
                invalid(prompt_len + col)
            }
            Parsed::Command { handler, args, .. } => {
                if filter.is_some() && !args.has("show") {
                    let col = filter_part.map_or(0, |(c, _)| c);
                    return invalid(prompt_len + col);
                }
                let mut out = String::new();
                let ctx = self.ctx.clone();
                let result = {
                    let json = matches!(filter, Some(Filter::Json));
                    let mut ex =
                        Exec { ctx: &ctx, s: &mut self.state, out: &mut out, topo: topo.clone(), json };
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&mut ex, &args)))
                };
                let result = match result {
                    Ok(r) => r,
                    Err(_) => Err(CmdError::Message("% Internal error while running the command.".into())),
                };
                match result {
                    Ok(()) => {
                        let text = match &filter {
                            Some(f) => filter::apply(f, &out),
                            None => out,
                        };
                        Output { text, pageable: true }
                    }
                    Err(CmdError::Message(m)) => {
                        out.push_str(&m);
                        out.push('\n');
                        Output { text: out, pageable: false }
                    }
                    Err(CmdError::Refused { what, message }) => {
                        self.ctx.audit.refused(&self.state.user.name, &self.state.source, &what);
                        out.push_str(&message);
                        out.push('\n');
                        Output { text: out, pageable: false }
                    }
                }
            }
        }
    }

    /// The text `?` prints for the line typed so far (without the `?`).
    pub fn help(&self, line: &str) -> String {
        let line = self.expand_alias(line);
        let (command_part, filter_part) = match line.find('|') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (&line[..], None),
        };
        if let Some(f) = filter_part {
            return filter::help(f);
        }
        let (mode, parse_line) = self.mode_for_parse(command_part);
        let topo = self.ctx.rib.topology();
        let choices = ScopeChoices { state: &self.state, topo: &topo };
        match tree().help(mode, &parse_line, self.state.privilege, &choices) {
            Ok(h) => {
                let mut text = h.render();
                // `show ... |` is offered after a complete show command.
                if parse_line.ends_with(' ')
                    && parse_line.trim_start().starts_with("sh")
                    && text.contains("<cr>")
                {
                    text = text.replace("  <cr>", "  |     Output modifiers\n  <cr>");
                }
                text
            }
            Err(Parsed::Ambiguous) => format!("% Ambiguous command:  \"{}\"\n", line.trim()),
            Err(_) => "% Unrecognized command\n".into(),
        }
    }

    /// Tab completion: where the replaced word starts and the candidates.
    pub fn complete(&self, line: &str) -> (usize, Vec<String>) {
        if line.contains('|') {
            return filter::complete(line);
        }
        let (mode, parse_line) = self.mode_for_parse(line);
        let topo = self.ctx.rib.topology();
        let choices = ScopeChoices { state: &self.state, topo: &topo };
        tree().complete(mode, &parse_line, self.state.privilege, &choices)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.ctx.sessions.unregister(self.state.registry_id);
    }
}

/// The caret line and message for an invalid word at screen column `col`.
fn invalid(col: usize) -> Output {
    Output {
        text: format!("{}^\n% Invalid input detected at '^' marker.\n\n", " ".repeat(col)),
        pageable: false,
    }
}

/// `1.2.3.4:5678` -> `1.2.3.4` (the throttle counts per host).
pub fn source_host(source: &str) -> String {
    match source.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => {
            h.trim_start_matches('[').trim_end_matches(']').to_string()
        }
        _ => source.to_string(),
    }
}

/// Keeps the filter type reachable for users of `execute`.
pub type OutputFilter = Filter;
