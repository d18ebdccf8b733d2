//! Reading newline-delimited messages with a size cap, without buffering an oversized one.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line is in the buffer (without its newline).
    Complete,
    /// The line was longer than the cap; it was read and discarded.
    TooLong,
    /// The peer closed the connection.
    Eof,
}

/// Reads one line into `buf` (cleared first). A line over `cap` bytes is consumed up to its
/// newline without being kept. A final line without a newline counts as complete.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(if too_long {
                Line::TooLong
            } else if buf.is_empty() {
                Line::Eof
            } else {
                Line::Complete
            });
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if buf.len() + take > cap {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        r.consume(if done { take + 1 } else { take });
        if done {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_split_and_capped() {
        let data = b"abc\n0123456789\nxy".to_vec();
        let mut r = tokio::io::BufReader::with_capacity(4, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(
            read_line(&mut r, &mut buf, 5).await.unwrap(),
            Line::Complete
        );
        assert_eq!(buf, b"abc");
        assert_eq!(read_line(&mut r, &mut buf, 5).await.unwrap(), Line::TooLong);
        assert!(buf.is_empty());
        assert_eq!(
            read_line(&mut r, &mut buf, 5).await.unwrap(),
            Line::Complete
        );
        assert_eq!(buf, b"xy");
        assert_eq!(read_line(&mut r, &mut buf, 5).await.unwrap(), Line::Eof);
    }
}
