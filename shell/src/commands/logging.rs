//! `show logging` (administrators only): the IOS logging summary followed by the log buffer:
//! logins, refused logins and commands, configuration changes, with time, user and source.

use super::{CmdResult, Exec, Handler};
use crate::commands::exec::SHOW;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};

pub fn commands() -> Vec<CommandDef<Handler>> {
    vec![CommandDef {
        modes: &[Mode::Exec],
        path: &[SHOW, ("logging", "Show the contents of logging buffers")],
        privilege: 1,
        handler: show_logging,
    }]
}

fn show_logging(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.require_admin("show logging")?;
    let entries = ex.ctx.audit.entries();
    let total = ex.ctx.audit.total();
    let lines: Vec<String> = entries.iter().map(|e| e.render()).collect();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    ex.line("Syslog logging: enabled (0 messages dropped, 0 messages rate-limited, 0 flushes, 0 overruns, xml disabled, filtering disabled)");
    ex.line("");
    ex.line("No Active Message Discriminator.");
    ex.line("");
    ex.line("");
    ex.line("");
    ex.line("No Inactive Message Discriminator.");
    ex.line("");
    ex.line("");
    ex.line("    Console logging: disabled");
    ex.line("    Monitor logging: disabled");
    ex.line(format!("    Buffer logging:  level debugging, {total} messages logged, xml disabled,"));
    ex.line("                    filtering disabled");
    ex.line("    Exception Logging: size (4096 bytes)");
    ex.line("    Count and timestamp logging messages: disabled");
    ex.line("    File logging: disabled");
    ex.line("    Persistent logging: disabled");
    ex.line("");
    ex.line("No active filter modules.");
    ex.line("");
    ex.line(format!("    Trap logging: level informational, {total} message lines logged"));
    ex.line("        Logging Source-Interface:       VRF Name:");
    ex.line("");
    ex.line(format!("Log Buffer ({bytes} bytes):"));
    for l in lines {
        ex.line(l);
    }
    Ok(())
}
