//! Reading `fd_readdir`'s buffer: preview-1 dirents (`d_next` u64,
//! `d_ino` u64, `d_namlen` u32, `d_type` u8, padding, then the name), the
//! last of which the host may cut off when the buffer is full. Pure, so it
//! is tested natively; `fs.rs` drives the calls.

use alloc::string::String;
use alloc::vec::Vec;

use wasiclaw_tools::platform::{DirEntry, Kind};

/// Bytes before the name.
const HEAD: usize = 24;

/// The tools' kind of a preview-1 `filetype`.
pub fn kind(filetype: u8) -> Kind {
    match filetype {
        3 => Kind::Dir,
        4 => Kind::File,
        7 => Kind::Symlink,
        _ => Kind::Other,
    }
}

/// Appends the whole entries in `buf` (except `.` and `..`) to `out` and
/// returns the cookie to continue from (that of the last whole entry), or
/// `None` when not even one entry was whole: the caller reads again with a
/// bigger buffer.
pub fn parse(buf: &[u8], out: &mut Vec<DirEntry>) -> Option<u64> {
    let mut rest = buf;
    let mut cookie = None;
    while rest.len() >= HEAD {
        let next = u64::from_le_bytes(rest[..8].try_into().ok()?);
        let namlen = u32::from_le_bytes(rest[16..20].try_into().ok()?) as usize;
        let Some(name) = rest.get(HEAD..HEAD.checked_add(namlen)?) else {
            break; // cut off: read again from `cookie`
        };
        if name != b"." && name != b".." {
            out.push(DirEntry {
                name: String::from_utf8_lossy(name).into_owned(),
                kind: kind(rest[20]),
            });
        }
        cookie = Some(next);
        rest = &rest[HEAD + namlen..];
    }
    cookie
}
