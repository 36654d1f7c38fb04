//! Output modifiers after `|`: `include`, `exclude`, `begin` and `count` with a regular
//! expression (the rest of the line), abbreviated like any keyword (`| i Gi0`), and `json`
//! (no argument): the command renders its view as one JSON document instead of IOS text
//! (the session tells the handler through `Exec::json`; a command without a JSON view
//! answers `% Command does not support JSON output`).

use regex::Regex;

/// A parsed output filter.
#[derive(Clone, Debug)]
pub enum Filter {
    Include(Regex),
    Exclude(Regex),
    Begin(Regex),
    Count(Regex),
    /// `| json`: machine-readable output.
    Json,
}

/// Why a filter did not parse; `Invalid` carries the column within the text after `|`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterError {
    Invalid(usize),
    Incomplete,
    Regex(String),
}

const KEYWORDS: [(&str, &str); 5] = [
    ("begin", "Begin with the line that matches"),
    ("count", "Count number of lines which match regexp"),
    ("exclude", "Exclude lines that match"),
    ("include", "Include lines that match"),
    ("json", "Output in JSON format"),
];

/// Parses the text after `|`.
pub fn parse(text: &str) -> Result<Filter, FilterError> {
    let start = text.len() - text.trim_start().len();
    let rest = &text[start..];
    let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let word = &rest[..word_end];
    if word.is_empty() {
        return Err(FilterError::Incomplete);
    }
    let lower = word.to_ascii_lowercase();
    let matches: Vec<&str> = KEYWORDS.iter().map(|(k, _)| *k).filter(|k| k.starts_with(&lower)).collect();
    let keyword = match matches.as_slice() {
        [k] => *k,
        _ => return Err(FilterError::Invalid(start)),
    };
    let pattern = rest[word_end..].trim_start();
    if keyword == "json" {
        return match pattern.is_empty() {
            true => Ok(Filter::Json),
            false => Err(FilterError::Invalid(text.len() - pattern.len())),
        };
    }
    if pattern.is_empty() {
        return Err(FilterError::Incomplete);
    }
    let re = Regex::new(pattern)
        .map_err(|e| FilterError::Regex(e.to_string().lines().last().unwrap_or("").trim().to_string()))?;
    Ok(match keyword {
        "begin" => Filter::Begin(re),
        "count" => Filter::Count(re),
        "exclude" => Filter::Exclude(re),
        _ => Filter::Include(re),
    })
}

/// Applies a filter to command output.
pub fn apply(filter: &Filter, text: &str) -> String {
    let mut out = String::new();
    match filter {
        Filter::Include(re) => text.lines().filter(|l| re.is_match(l)).for_each(|l| push_line(&mut out, l)),
        Filter::Exclude(re) => text.lines().filter(|l| !re.is_match(l)).for_each(|l| push_line(&mut out, l)),
        Filter::Begin(re) => {
            text.lines().skip_while(|l| !re.is_match(l)).for_each(|l| push_line(&mut out, l))
        }
        Filter::Count(re) => {
            let n = text.lines().filter(|l| re.is_match(l)).count();
            out = format!("Number of lines which match regexp = {n}\n");
        }
        // The handler wrote JSON if it has a JSON view; anything else did not.
        Filter::Json => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(_) => out = text.to_string(),
            Err(_) => out = "% Command does not support JSON output\n".into(),
        },
    }
    out
}

fn push_line(out: &mut String, l: &str) {
    out.push_str(l);
    out.push('\n');
}

/// `?` after `|`.
pub fn help(text: &str) -> String {
    let t = text.trim_start();
    if t.is_empty() {
        let mut s = String::new();
        for (k, h) in KEYWORDS {
            s.push_str(&format!("  {k:<7}  {h}\n"));
        }
        return s;
    }
    if t.contains(char::is_whitespace) {
        if t.split_whitespace().next().is_some_and(|w| "json".starts_with(&w.to_ascii_lowercase())) {
            return "  <cr>\n".into();
        }
        return "  LINE  Regular Expression\n".into();
    }
    let names: Vec<&str> = KEYWORDS.iter().map(|(k, _)| *k).filter(|k| k.starts_with(t)).collect();
    if names.is_empty() {
        return "% Unrecognized command\n".into();
    }
    format!("{}  \n", names.join("  "))
}

/// Tab completion after `|`.
pub fn complete(line: &str) -> (usize, Vec<String>) {
    let Some(bar) = line.rfind('|') else { return (line.len(), Vec::new()) };
    let after = &line[bar + 1..];
    let t = after.trim_start();
    if t.contains(char::is_whitespace) {
        return (line.len(), Vec::new());
    }
    let start = line.len() - t.len();
    (start, KEYWORDS.iter().map(|(k, _)| k.to_string()).filter(|k| k.starts_with(t)).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TEXT: &str = "alpha 1\nbeta 2\ngamma 3\nbeta 4\n";

    #[test]
    fn filters() {
        assert_eq!(apply(&parse(" include beta").unwrap(), TEXT), "beta 2\nbeta 4\n");
        assert_eq!(apply(&parse(" i beta").unwrap(), TEXT), "beta 2\nbeta 4\n");
        assert_eq!(apply(&parse(" exclude beta").unwrap(), TEXT), "alpha 1\ngamma 3\n");
        assert_eq!(apply(&parse(" begin gam").unwrap(), TEXT), "gamma 3\nbeta 4\n");
        assert_eq!(apply(&parse(" count ^beta").unwrap(), TEXT), "Number of lines which match regexp = 2\n");
        assert_eq!(apply(&parse(" include a [0-9]$").unwrap(), TEXT), "alpha 1\nbeta 2\ngamma 3\nbeta 4\n");
    }

    #[test]
    fn errors() {
        assert_eq!(parse(" bogus x").unwrap_err(), FilterError::Invalid(1));
        assert_eq!(parse(" include").unwrap_err(), FilterError::Incomplete);
        assert_eq!(parse("").unwrap_err(), FilterError::Incomplete);
        assert!(matches!(parse(" include (").unwrap_err(), FilterError::Regex(_)));
        assert_eq!(complete("show ip route | inc"), (16, vec!["include".to_string()]));
        assert!(help(" ").contains("include  Include lines that match"));
    }

    #[test]
    fn json_takes_no_argument_and_passes_only_json() {
        assert!(matches!(parse(" json").unwrap(), Filter::Json));
        assert!(matches!(parse(" j").unwrap(), Filter::Json));
        assert_eq!(parse(" json x").unwrap_err(), FilterError::Invalid(6));
        assert_eq!(apply(&Filter::Json, "{\"a\": 1}\n"), "{\"a\": 1}\n");
        assert_eq!(apply(&Filter::Json, TEXT), "% Command does not support JSON output\n");
        assert!(help(" ").contains("json     Output in JSON format"));
        assert_eq!(help(" json "), "  <cr>\n");
    }
}
