//! The inputs of one jq run, shared by the main loop and the filter's `input`/`inputs`: jq reads
//! its next value for whichever asks first. They were all parsed (and measured, and charged)
//! before the filter runs, so `inputs` yields at most that many values, which is what lets the
//! static bound accept it. The interpreter runs a command on one thread, so a thread-local is
//! this command's own.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use jaq_core::native::{Filter, bome, v};
use jaq_core::{DataT, RunPtr};

use super::value::{J, fail};

/// One input value: its file (`None`: standard input), the line count jq had reached once it
/// was parsed, and whether nothing followed it in the last file (jq then has no file open once
/// it looks for more).
pub(crate) struct Item {
    pub val: J,
    pub file: Option<Rc<str>>,
    pub line: usize,
    pub at_eof: bool,
}

#[derive(Default)]
struct Feed {
    queue: VecDeque<Item>,
    /// Where the last value read came from (`None`: nothing read, `-n`).
    file: Option<Option<Rc<str>>>,
    line: usize,
    at_eof: bool,
    /// `input` found no more values: jq has closed its last file.
    past_end: bool,
    /// `-s`: everything was read before the filter ran.
    slurped: bool,
}

thread_local! {
    static FEED: RefCell<Feed> = RefCell::new(Feed::default());
}

/// The run's inputs, held until it ends (however it ends): they are charged to the exec only
/// while the command runs.
pub(crate) struct Running(());

impl Running {
    pub(crate) fn begin(items: Vec<Item>, slurped: bool) -> Running {
        FEED.with(|f| {
            *f.borrow_mut() = Feed {
                queue: items.into(),
                slurped,
                ..Feed::default()
            }
        });
        Running(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        FEED.with(|f| *f.borrow_mut() = Feed::default());
    }
}

/// Whether `code` may call `input`, `inputs`, `input_line_number` or `input_filename` (a word
/// check: a false yes only reads the inputs that `-n` would have left unread).
pub(crate) fn asks_for_input(code: &str) -> bool {
    let b = code.as_bytes();
    code.match_indices("input").any(|(i, _)| {
        // Not a key (`.input`), a variable (`$input`) or the tail of another word.
        i == 0 || !(b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'_' | b'$' | b'.'))
    })
}

/// The next input, for the main loop or `input`.
pub(crate) fn next() -> Option<J> {
    FEED.with(|f| {
        let mut f = f.borrow_mut();
        match f.queue.pop_front() {
            Some(it) => {
                f.file = Some(it.file);
                f.line = it.line;
                f.at_eof = it.at_eof;
                Some(it.val)
            }
            None => {
                f.past_end = true;
                None
            }
        }
    })
}

/// jq's `(at ...)` of an error: the file and line reached, or `<unknown>` with no file open.
pub(crate) fn position() -> String {
    FEED.with(|f| {
        let f = f.borrow();
        if f.slurped && f.past_end {
            return "<unknown>".to_owned();
        }
        match &f.file {
            None if f.past_end => "<stdin>:0".to_owned(),
            None => "<unknown>".to_owned(),
            Some(_) if f.past_end && f.at_eof => "<unknown>".to_owned(),
            Some(file) => format!("{}:{}", file.as_deref().unwrap_or("<stdin>"), f.line),
        }
    })
}

fn line_number() -> J {
    FEED.with(|f| J::from(f.borrow().line))
}

fn filename() -> J {
    FEED.with(|f| match &f.borrow().file {
        None => J::Null,
        Some(file) => J::str(file.as_deref().unwrap_or("<stdin>")),
    })
}

pub(crate) fn funs<D: for<'a> DataT<V<'a> = J>>() -> Box<[Filter<RunPtr<D>>]> {
    Box::new([
        // jq 1.6 says "break" when there is no more input (its `input` is a `break` there).
        ("input", v(0), |_| bome(next().ok_or_else(|| fail("break")))),
        ("inputs", v(0), |_| {
            Box::new(core::iter::from_fn(|| next().map(Ok)))
        }),
        ("input_line_number", v(0), |_| bome(Ok(line_number()))),
        ("input_filename", v(0), |_| bome(Ok(filename()))),
    ])
}
