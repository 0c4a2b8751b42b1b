//! Writing to the terminal: whole strings at once, a closed pipe treated as success, and
//! the engine's progress as lines on stderr.

use std::io::Write;

use deskrun::operations::Progress;

/// Writes `text` to stdout.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Writes a progress line to stderr, where it never mixes with `--output json`.
pub fn progress(line: &str) {
    eprintln!("{line}");
}

/// Shows an operation's progress on stderr.
pub fn show(event: Progress) {
    match event {
        Progress::Note { message } => progress(&message),
        Progress::Warning { message } => progress(&format!("warning: {message}")),
        Progress::Plan { context, actions, unchanged } => {
            progress(&format!("Plan for {context}:"));
            for action in actions {
                progress(&format!("  {action}"));
            }
            for name in unchanged {
                progress(&format!("  = {name} unchanged"));
            }
        }
        Progress::Applied { done, total, action } => {
            progress(&format!("[{done}/{total}] done: {action}"));
        }
    }
}

/// Whether `error` is a write to a closed pipe (`deskrun list | head`), which is not a failure.
///
/// NB: only the error itself, as `print` returns it, not its causes: a broken pipe deeper
/// down (a child program that exited before reading its stdin) is a real failure.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
