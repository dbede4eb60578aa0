fn main() {
    // Errors reach the user as one readable message, never as a Debug dump
    // with a backtrace.
    if let Err(err) = autosa::cli::main() {
        eprintln!("autosa: error: {}", describe(&err));
        std::process::exit(2);
    }
}

/// The error and its causes on one line, each cause once: many library
/// errors already name their cause in their own message.
fn describe(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let err = anyhow::Error::new(io).context("cannot read x: entity not found");
        assert_eq!(describe(&err), "cannot read x: entity not found");
        let err = anyhow::anyhow!("inner").context("outer");
        assert_eq!(describe(&err), "outer: inner");
    }
}
