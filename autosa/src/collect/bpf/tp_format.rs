//! Parser for tracefs `events/<category>/<name>/format` files: the layout of
//! a classic tracepoint's raw record, which changes between kernels.
//!
//! ```text
//!     field:pid_t prev_pid;   offset:24;  size:4; signed:1;
//! ```
//!
//! (the separators are tabs).

use std::collections::BTreeMap;

use thiserror::Error;

/// Where one field sits in the raw record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
}

/// Fields of one tracepoint, by name (`prev_pid`, `comm` for `char comm[16]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Format {
    pub name: String,
    pub fields: BTreeMap<String, Field>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("line {line}: malformed field description {text:?}")]
    Malformed { line: usize, text: String },
    #[error("no fields found: this does not look like a tracefs format file")]
    NoFields,
    #[error("tracepoint {tracepoint} has no field {field:?} (kernel layout not supported)")]
    MissingField { tracepoint: String, field: String },
    #[error("tracepoint {tracepoint} field {field:?} is {size} bytes, expected {expected}")]
    BadSize {
        tracepoint: String,
        field: String,
        size: u32,
        expected: String,
    },
}

impl Format {
    /// Parses the text of a `format` file. Lines that are not `field:` lines
    /// (name, ID, print fmt) are skipped, except `name:`.
    pub fn parse(text: &str) -> Result<Self, FormatError> {
        let mut out = Format::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if let Some(name) = line.strip_prefix("name:") {
                out.name = name.trim().to_string();
                continue;
            }
            if !line.starts_with("field:") {
                continue;
            }
            let malformed = || FormatError::Malformed {
                line: i + 1,
                text: raw.chars().take(200).collect(),
            };
            let (decl, field) = parse_field_line(line).ok_or_else(malformed)?;
            out.fields.insert(decl, field);
        }
        if out.fields.is_empty() {
            return Err(FormatError::NoFields);
        }
        Ok(out)
    }

    /// The field, or an error naming the tracepoint.
    pub fn field(&self, name: &str) -> Result<Field, FormatError> {
        self.fields
            .get(name)
            .copied()
            .ok_or_else(|| FormatError::MissingField {
                tracepoint: self.name.clone(),
                field: name.to_string(),
            })
    }

    /// The field, checked to have one of the accepted sizes.
    pub fn field_sized(&self, name: &str, sizes: &[u32]) -> Result<Field, FormatError> {
        let f = self.field(name)?;
        if sizes.contains(&f.size) {
            Ok(f)
        } else {
            Err(FormatError::BadSize {
                tracepoint: self.name.clone(),
                field: name.to_string(),
                size: f.size,
                expected: format!("{sizes:?}"),
            })
        }
    }
}

/// `field:<decl>; offset:N; size:N; signed:N;` (tab-separated) → (field name, layout).
fn parse_field_line(line: &str) -> Option<(String, Field)> {
    let mut parts = line.split(';').map(str::trim);
    let decl = parts.next()?.strip_prefix("field:")?.trim();
    let mut offset = None;
    let mut size = None;
    let mut signed = None;
    for p in parts {
        if let Some(v) = p.strip_prefix("offset:") {
            offset = Some(v.trim().parse::<u32>().ok()?);
        } else if let Some(v) = p.strip_prefix("size:") {
            size = Some(v.trim().parse::<u32>().ok()?);
        } else if let Some(v) = p.strip_prefix("signed:") {
            signed = Some(v.trim().parse::<u8>().ok()? != 0);
        }
    }
    Some((
        decl_name(decl)?,
        Field {
            offset: offset?,
            size: size?,
            signed: signed.unwrap_or(false),
        },
    ))
}

/// Last identifier of a C declaration: `char prev_comm[16]` → `prev_comm`,
/// `__data_loc char[] cmd` → `cmd`, `unsigned long *x` → `x`.
fn decl_name(decl: &str) -> Option<String> {
    let decl = match decl.rfind('[') {
        // An array suffix after the name (`comm[16]`); `char[] cmd` keeps its name.
        Some(pos)
            if decl[pos..]
                .find(']')
                .is_some_and(|e| decl[pos + e + 1..].trim().is_empty()) =>
        {
            &decl[..pos]
        }
        _ => decl,
    };
    let name = decl
        .rsplit(|c: char| c.is_whitespace() || c == '*')
        .next()?
        .trim();
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    valid.then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SWITCH: &str = "name: sched_switch
ID: 372
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
\tfield:__data_loc char[] cmd;\toffset:60;\tsize:4;\tsigned:0;

print fmt: \"prev_comm=%s\", REC->prev_comm
";

    #[test]
    fn parses_fields_and_names() {
        let f = Format::parse(SWITCH).unwrap();
        assert_eq!(f.name, "sched_switch");
        assert_eq!(
            f.field("prev_pid").unwrap(),
            Field {
                offset: 24,
                size: 4,
                signed: true
            }
        );
        assert_eq!(
            f.field("prev_state").unwrap(),
            Field {
                offset: 32,
                size: 8,
                signed: true
            }
        );
        assert_eq!(
            f.field("prev_comm").unwrap(),
            Field {
                offset: 8,
                size: 16,
                signed: false
            }
        );
        assert_eq!(f.field("cmd").unwrap().offset, 60);
        assert_eq!(f.fields.len(), 5);
    }

    #[test]
    fn missing_and_wrong_size_fields_are_named() {
        let f = Format::parse(SWITCH).unwrap();
        let e = f.field("next_pid").unwrap_err();
        assert!(
            e.to_string().contains("sched_switch") && e.to_string().contains("next_pid"),
            "{e}"
        );
        let e = f.field_sized("prev_pid", &[8]).unwrap_err();
        assert!(matches!(e, FormatError::BadSize { size: 4, .. }), "{e}");
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(Format::parse(""), Err(FormatError::NoFields));
        assert_eq!(Format::parse("hello\nworld"), Err(FormatError::NoFields));
        let e = Format::parse("field:int x;\toffset:abc;\tsize:4;\tsigned:1;").unwrap_err();
        assert!(matches!(e, FormatError::Malformed { line: 1, .. }), "{e}");
        assert!(Format::parse("field:int x;\tsize:4;").is_err());
        assert!(Format::parse("field:;\toffset:1;\tsize:4;").is_err());
    }

    proptest! {
        #[test]
        fn random_input_never_panics(s in ".{0,400}") {
            let _ = Format::parse(&s);
        }

        #[test]
        fn random_field_lines_never_panic(decl in "[a-z_ \\[\\]*0-9]{0,40}", a in ".{0,12}", b in ".{0,12}") {
            let _ = Format::parse(&format!("field:{decl};\toffset:{a};\tsize:{b};\tsigned:1;"));
        }
    }
}
