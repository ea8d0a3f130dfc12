//! Configuration errors: each names the file, and where known the line and field.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    pub line: Option<u32>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a config and its maps. A reload with any of them is rejected whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for p in &self.problems {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    pub fn one(file: &Path, line: Option<u32>, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            problems: vec![ConfigProblem {
                file: file.to_path_buf(),
                line,
                field: field.map(str::to_string),
                message: message.into(),
            }],
        }
    }

    pub fn io(file: &Path, e: &std::io::Error) -> Self {
        Self::one(file, None, None, format!("cannot read: {e}"))
    }

    /// A YAML syntax or type error; serde-saphyr's message carries line and column.
    pub fn syntax(file: &Path, e: &serde_saphyr::Error) -> Self {
        let line = e.location().map(|l| l.line() as u32);
        let text = e.to_string();
        let field = text
            .split('`')
            .nth(1)
            .filter(|_| text.contains("unknown field") || text.contains("missing field"))
            .map(str::to_string);
        Self { problems: vec![ConfigProblem { file: file.to_path_buf(), line, field, message: text }] }
    }
}
