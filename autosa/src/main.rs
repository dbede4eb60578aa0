fn main() {
    // Errors reach the user as one readable message, never as a Debug dump
    // with a backtrace.
    if let Err(err) = autosa::cli::main() {
        eprintln!("autosa: error: {}", autosa::cli::describe(&err));
        std::process::exit(2);
    }
}
