//! Appending result lines to the output (or to the `--retry-errors` journal): one
//! write per complete line, so only a SIGKILL can tear one, and resume repairs that.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::batch::record::{Entry, Layout};

pub struct Sink {
    file: File,
    layout: Layout,
    buf: Vec<u8>,
}

impl Sink {
    /// Opens `path` for appending; an empty (or new) CSV file gets its header first.
    pub fn open(path: &Path, layout: &Layout) -> std::io::Result<Sink> {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        if file.metadata()?.len() == 0 {
            let header = layout.header_line();
            if !header.is_empty() {
                file.write_all(&header)?;
            }
        }
        Ok(Sink { file, layout: layout.clone(), buf: Vec::with_capacity(512) })
    }

    pub fn write(&mut self, entry: &Entry<'_>) -> std::io::Result<()> {
        self.buf.clear();
        self.layout.encode(entry, &mut self.buf);
        self.file.write_all(&self.buf)?;
        self.file.flush()
    }

    pub fn sync(&self) {
        let _ = self.file.sync_data();
    }
}
