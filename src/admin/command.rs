//! Parsing one console statement into an [`AdminCommand`]: keywords case-insensitive, an
//! optional trailing `;`. Parsed once, dispatched exhaustively in `mod.rs`.

use super::error::AdminError;

/// Every command the console knows, listed in the unknown-command error.
pub const COMMANDS: &str = "SHOW POOLS | STATS | SERVERS | CLIENTS | DATABASES | CONFIG | VERSION | SHARDS; \
     SHOW ROUTE [<database>] <sql>; RELOAD; PAUSE [<shard>]; RESUME [<shard>]; KILL_CLIENT <id>; SHUTDOWN";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Show {
    Pools,
    Stats,
    Servers,
    Clients,
    Databases,
    Config,
    Version,
    Shards,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    Show(Show),
    /// `database`: the first word when it names a configured database, else `None` (the
    /// first database of the config is used).
    ShowRoute {
        first_word: String,
        rest: String,
        whole: String,
    },
    Reload,
    /// `None`: every shard.
    Pause(Option<String>),
    Resume(Option<String>),
    KillClient(u64),
    Shutdown,
}

/// Splits off the first whitespace-separated word.
fn word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (s.get(..i).unwrap_or(s), s.get(i..).unwrap_or("").trim_start()),
        None => (s, ""),
    }
}

impl AdminCommand {
    /// `Ok(None)`: an empty statement.
    pub fn parse(sql: &str) -> Result<Option<AdminCommand>, AdminError> {
        let text = sql.trim();
        let text = text.strip_suffix(';').unwrap_or(text).trim_end();
        if text.is_empty() {
            return Ok(None);
        }
        let unknown = || AdminError::UnknownCommand(text.chars().take(80).collect());
        let (verb, rest) = word(text);
        let optional_name = |rest: &str| -> Result<Option<String>, AdminError> {
            match word(rest) {
                ("", _) => Ok(None),
                (name, "") => Ok(Some(name.trim_matches('"').to_string())),
                _ => Err(unknown()),
            }
        };
        let cmd = match verb.to_ascii_uppercase().as_str() {
            "SHOW" => {
                let (what, more) = word(rest);
                let what = what.to_ascii_uppercase();
                if what == "ROUTE" {
                    if more.is_empty() {
                        return Err(AdminError::BadArgument(
                            "SHOW ROUTE needs a statement: SHOW ROUTE [<database>] <sql>",
                        ));
                    }
                    let (first, after) = word(more);
                    return Ok(Some(AdminCommand::ShowRoute {
                        first_word: first.to_string(),
                        rest: after.to_string(),
                        whole: more.to_string(),
                    }));
                }
                if !more.is_empty() {
                    return Err(unknown());
                }
                AdminCommand::Show(match what.as_str() {
                    "POOLS" => Show::Pools,
                    "STATS" => Show::Stats,
                    "SERVERS" => Show::Servers,
                    "CLIENTS" => Show::Clients,
                    "DATABASES" => Show::Databases,
                    "CONFIG" => Show::Config,
                    "VERSION" => Show::Version,
                    "SHARDS" => Show::Shards,
                    _ => return Err(unknown()),
                })
            }
            "RELOAD" if rest.is_empty() => AdminCommand::Reload,
            "PAUSE" => AdminCommand::Pause(optional_name(rest)?),
            "RESUME" => AdminCommand::Resume(optional_name(rest)?),
            "KILL_CLIENT" => {
                let id = rest.trim().trim_start_matches(['c', 'C']);
                match id.parse::<u64>() {
                    Ok(id) => AdminCommand::KillClient(id),
                    Err(_) => {
                        return Err(AdminError::BadArgument("KILL_CLIENT needs a client id as SHOW CLIENTS lists it"))
                    }
                }
            }
            "SHUTDOWN" if rest.is_empty() => AdminCommand::Shutdown,
            _ => return Err(unknown()),
        };
        Ok(Some(cmd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Option<AdminCommand> {
        AdminCommand::parse(s).ok().flatten()
    }

    #[test]
    fn keywords_are_case_insensitive_and_a_trailing_semicolon_is_optional() {
        assert_eq!(parse("show pools;"), Some(AdminCommand::Show(Show::Pools)));
        assert_eq!(parse("  SHOW   Shards "), Some(AdminCommand::Show(Show::Shards)));
        assert_eq!(parse("pause s1"), Some(AdminCommand::Pause(Some("s1".into()))));
        assert_eq!(parse("RESUME;"), Some(AdminCommand::Resume(None)));
        assert_eq!(parse("kill_client c12"), Some(AdminCommand::KillClient(12)));
        assert_eq!(parse("Shutdown"), Some(AdminCommand::Shutdown));
        assert_eq!(AdminCommand::parse(" ; ").ok(), Some(None));
    }

    #[test]
    fn show_route_keeps_the_statement_text() {
        let Some(AdminCommand::ShowRoute { first_word, rest, .. }) =
            parse("SHOW ROUTE pms SELECT * FROM t WHERE a = 1;")
        else {
            panic!("not a SHOW ROUTE")
        };
        assert_eq!(first_word, "pms");
        assert_eq!(rest, "SELECT * FROM t WHERE a = 1");
    }

    #[test]
    fn unknown_commands_and_extra_words_are_refused() {
        assert!(matches!(AdminCommand::parse("SHOW NOTHING"), Err(AdminError::UnknownCommand(_))));
        assert!(matches!(AdminCommand::parse("SELECT 1"), Err(AdminError::UnknownCommand(_))));
        assert!(matches!(AdminCommand::parse("PAUSE a b"), Err(AdminError::UnknownCommand(_))));
        assert!(matches!(AdminCommand::parse("KILL_CLIENT x"), Err(AdminError::BadArgument(_))));
    }
}
