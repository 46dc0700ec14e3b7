//! Printing that never panics. Rust's `println!`/`eprintln!` panic when the
//! reader has gone (`glair-vision batch ... 2>&1 | head`, a closed terminal),
//! which would stop a batch halfway or kill the sandbox. A line nobody can read
//! any more is dropped instead; results go to files, so nothing is lost.

/// A line to stderr (progress, summaries, messages).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// A line to stdout (a command's result).
macro_rules! show {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Text to stdout, as it is (it ends its own lines).
macro_rules! show_text {
    ($text:expr) => {{
        use std::io::Write as _;
        let _ = std::io::stdout().lock().write_all(AsRef::<str>::as_ref(&$text).as_bytes());
    }};
}
