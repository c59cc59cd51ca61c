//! The few `wasi_snapshot_preview1` functions the module calls, declared
//! directly and wrapped in safe functions. std's WASI layer (wasi-libc's
//! descriptor table and path resolution, buffered stdio, dlmalloc, the panic
//! runtime) cost about a sixth of the module; this is what is left of it.
//!
//! Layouts and constants follow the preview-1 witx (the `wasi` crate 0.11).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// A preview-1 error code (`errno`); `0` is success and never stored here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub u16);

pub const EACCES: Errno = Errno(2);
pub const EBADF: Errno = Errno(8);
pub const EEXIST: Errno = Errno(20);
pub const EINTR: Errno = Errno(27);
pub const EINVAL: Errno = Errno(28);
pub const EISDIR: Errno = Errno(31);
pub const ELOOP: Errno = Errno(32);
pub const ENAMETOOLONG: Errno = Errno(37);
pub const ENOENT: Errno = Errno(44);
pub const ENOSPC: Errno = Errno(51);
pub const ENOTDIR: Errno = Errno(54);
pub const ENOTEMPTY: Errno = Errno(55);
pub const EPERM: Errno = Errno(63);
pub const EROFS: Errno = Errno(69);
pub const ESPIPE: Errno = Errno(70);
pub const ENOTCAPABLE: Errno = Errno(76);

/// `filetype` values (the rest are read in `dirent::kind`).
pub const FILETYPE_CHARACTER_DEVICE: u8 = 2;
pub const FILETYPE_DIRECTORY: u8 = 3;

/// `oflags`.
pub const O_CREAT: u16 = 1 << 0;
pub const O_DIRECTORY: u16 = 1 << 1;
pub const O_EXCL: u16 = 1 << 2;
pub const O_TRUNC: u16 = 1 << 3;

/// `rights`, chosen as wasi-libc's `openat` (which std calls) chooses them:
/// everything except the other mode's data rights, intersected with the
/// directory's inheriting rights. WAMR derives the host's open mode from the
/// read/write bits, so a read never asks for write rights.
const RIGHTS_FD_DATASYNC: u64 = 1 << 0;
const RIGHTS_FD_READ: u64 = 1 << 1;
const RIGHTS_FD_SEEK: u64 = 1 << 2;
const RIGHTS_FD_TELL: u64 = 1 << 5;
const RIGHTS_FD_WRITE: u64 = 1 << 6;
const RIGHTS_FD_ALLOCATE: u64 = 1 << 8;
const RIGHTS_FD_READDIR: u64 = 1 << 14;
const RIGHTS_FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
const WRITE_ONLY: u64 =
    RIGHTS_FD_DATASYNC | RIGHTS_FD_WRITE | RIGHTS_FD_ALLOCATE | RIGHTS_FD_FILESTAT_SET_SIZE;
pub const RIGHTS_READ: u64 = !WRITE_ONLY;
pub const RIGHTS_WRITE: u64 = !(RIGHTS_FD_READ | RIGHTS_FD_READDIR);

/// `lookupflags`: follow a symlink in the last component (as std's `open`
/// and `metadata` do; `symlink_metadata`, `read_link` and the path calls
/// without flags do not).
pub const FOLLOW: u32 = 1;

mod raw {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        pub fn args_get(argv: *mut *mut u8, buf: *mut u8) -> i32;
        pub fn args_sizes_get(argc: *mut usize, size: *mut usize) -> i32;
        pub fn environ_get(environ: *mut *mut u8, buf: *mut u8) -> i32;
        pub fn environ_sizes_get(count: *mut usize, size: *mut usize) -> i32;
        pub fn clock_time_get(id: u32, precision: u64, time: *mut u64) -> i32;
        pub fn fd_close(fd: u32) -> i32;
        pub fn fd_fdstat_get(fd: u32, stat: *mut u8) -> i32;
        pub fn fd_filestat_get(fd: u32, stat: *mut u8) -> i32;
        pub fn fd_prestat_get(fd: u32, prestat: *mut u32) -> i32;
        pub fn fd_prestat_dir_name(fd: u32, path: *mut u8, len: usize) -> i32;
        pub fn fd_read(fd: u32, iovs: *const [usize; 2], n: usize, read: *mut usize) -> i32;
        pub fn fd_readdir(fd: u32, buf: *mut u8, len: usize, cookie: u64, used: *mut usize) -> i32;
        pub fn fd_seek(fd: u32, offset: i64, whence: u8, pos: *mut u64) -> i32;
        pub fn fd_sync(fd: u32) -> i32;
        pub fn fd_write(fd: u32, iovs: *const [usize; 2], n: usize, written: *mut usize) -> i32;
        pub fn path_create_directory(fd: u32, path: *const u8, len: usize) -> i32;
        pub fn path_filestat_get(
            fd: u32,
            flags: u32,
            path: *const u8,
            len: usize,
            stat: *mut u8,
        ) -> i32;
        #[allow(clippy::too_many_arguments)]
        pub fn path_open(
            fd: u32,
            dirflags: u32,
            path: *const u8,
            len: usize,
            oflags: u16,
            base: u64,
            inheriting: u64,
            fdflags: u16,
            opened: *mut u32,
        ) -> i32;
        pub fn path_readlink(
            fd: u32,
            path: *const u8,
            len: usize,
            buf: *mut u8,
            buf_len: usize,
            used: *mut usize,
        ) -> i32;
        pub fn path_remove_directory(fd: u32, path: *const u8, len: usize) -> i32;
        pub fn path_rename(
            fd: u32,
            old: *const u8,
            old_len: usize,
            new_fd: u32,
            new: *const u8,
            new_len: usize,
        ) -> i32;
        pub fn path_unlink_file(fd: u32, path: *const u8, len: usize) -> i32;
        pub fn poll_oneoff(inp: *const u8, out: *mut u8, n: usize, events: *mut usize) -> i32;
        pub fn proc_exit(code: u32) -> !;
    }
}

fn check(ret: i32) -> Result<(), Errno> {
    match ret {
        0 => Ok(()),
        e => Err(Errno(e as u16)),
    }
}

/// The command-line arguments (`environ == false`) or the environment
/// (`KEY=VALUE`), as the host's NUL-terminated strings; a non-UTF-8 one is
/// converted lossily.
fn strings(environ: bool) -> Vec<String> {
    let (mut count, mut size) = (0usize, 0usize);
    // SAFETY: both pointers are to live locals the host writes one usize to.
    let sized = unsafe {
        match environ {
            false => raw::args_sizes_get(&mut count, &mut size),
            true => raw::environ_sizes_get(&mut count, &mut size),
        }
    };
    if check(sized).is_err() {
        return Vec::new();
    }
    // One more pointer than strings: WAMR writes a terminating NULL (as C's
    // argv has) and traps when the buffer has no room for it.
    let mut ptrs = vec![core::ptr::null_mut::<u8>(); count + 1];
    let mut buf = vec![0u8; size];
    // SAFETY: the buffers have the sizes the host just reported (plus the
    // terminator); it writes the pointers into `ptrs`, each into `buf`.
    let got = unsafe {
        match environ {
            false => raw::args_get(ptrs.as_mut_ptr(), buf.as_mut_ptr()),
            true => raw::environ_get(ptrs.as_mut_ptr(), buf.as_mut_ptr()),
        }
    };
    if check(got).is_err() {
        return Vec::new();
    }
    // The pointers all point into `buf`, in order; splitting `buf` at its NULs
    // yields the same strings without trusting them.
    buf.split(|&b| b == 0)
        .take(count)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

pub fn args() -> Vec<String> {
    strings(false)
}

pub fn environ() -> Vec<String> {
    strings(true)
}

/// Nanoseconds on the wall clock (`0`) or the monotonic clock (`1`).
pub fn clock_ns(id: u32) -> u64 {
    let mut t = 0u64;
    // SAFETY: `t` is a live u64 the host writes.
    match check(unsafe { raw::clock_time_get(id, 1, &mut t) }) {
        Ok(()) => t,
        Err(_) => 0,
    }
}

/// Blocks for `ns` nanoseconds: one relative monotonic-clock subscription.
pub fn sleep_ns(ns: u64) {
    // subscription: userdata u64 @0, tag u8 @8 (0 = clock), clock id u32
    // @16, timeout u64 @24, precision u64 @32, flags u16 @40; 48 bytes.
    let mut sub = [0u64; 6];
    sub[2] = 1; // CLOCKID_MONOTONIC (little-endian low word at @16)
    sub[3] = ns;
    let mut event = [0u64; 4]; // event: 32 bytes
    let mut n = 0usize;
    // SAFETY: `sub` and `event` are 8-aligned buffers of the sizes the ABI
    // reads (one subscription) and writes (one event).
    let _ = unsafe { raw::poll_oneoff(sub.as_ptr().cast(), event.as_mut_ptr().cast(), 1, &mut n) };
}

pub fn exit(code: u32) -> ! {
    // SAFETY: proc_exit takes a plain integer and does not return.
    unsafe { raw::proc_exit(code) }
}

/// Writes as much of `data` as the host takes in one call.
pub fn write(fd: u32, data: &[u8]) -> Result<usize, Errno> {
    let iov = [data.as_ptr() as usize, data.len()];
    let mut n = 0usize;
    // SAFETY: one iovec over `data`, which outlives the call; `n` is a local.
    check(unsafe { raw::fd_write(fd, &iov, 1, &mut n) })?;
    Ok(n.min(data.len()))
}

pub fn write_all(fd: u32, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match write(fd, data) {
            Ok(0) => return Err(EINVAL),
            Ok(n) => data = &data[n..],
            Err(EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads into `buf`; `Ok(0)` at the end.
pub fn read(fd: u32, buf: &mut [u8]) -> Result<usize, Errno> {
    let iov = [buf.as_mut_ptr() as usize, buf.len()];
    let mut n = 0usize;
    // SAFETY: one iovec over `buf`, which we hold mutably for the call.
    check(unsafe { raw::fd_read(fd, &iov, 1, &mut n) })?;
    Ok(n.min(buf.len()))
}

/// `isatty` as wasi-libc (and so std) decides it: a character device on
/// which seeking and telling are not allowed.
pub fn is_terminal(fd: u32) -> bool {
    // fdstat: filetype u8 @0, flags u16 @2, rights_base u64 @8, inheriting @16.
    let mut st = [0u64; 3];
    // SAFETY: `st` is an 8-aligned 24-byte buffer, the size of an fdstat.
    if check(unsafe { raw::fd_fdstat_get(fd, st.as_mut_ptr().cast()) }).is_err() {
        return false;
    }
    st[0] as u8 == FILETYPE_CHARACTER_DEVICE && st[1] & (RIGHTS_FD_SEEK | RIGHTS_FD_TELL) == 0
}

/// The preopened directories: `(fd, guest path)`, from fd 3 up to the
/// first that is not preopened.
pub fn preopens() -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for fd in 3u32.. {
        // prestat: tag u8 @0 (0 = dir), name length u32 @4.
        let mut pre = [0u32; 2];
        // SAFETY: `pre` is an aligned 8-byte buffer, the size of a prestat.
        if check(unsafe { raw::fd_prestat_get(fd, pre.as_mut_ptr()) }).is_err() {
            break;
        }
        if pre[0] as u8 != 0 {
            continue;
        }
        let mut name = vec![0u8; pre[1] as usize];
        // SAFETY: `name` has exactly the length the host reported.
        if check(unsafe { raw::fd_prestat_dir_name(fd, name.as_mut_ptr(), name.len()) }).is_ok() {
            // Some hosts count a trailing NUL.
            while name.last() == Some(&0) {
                name.pop();
            }
            out.push((fd, String::from_utf8_lossy(&name).into_owned()));
        }
    }
    out
}

/// An open descriptor, closed when dropped.
pub struct Fd(pub u32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: closes a descriptor this value owns.
        let _ = unsafe { raw::fd_close(self.0) };
    }
}

/// The rights new descriptors opened under `dir` may have.
pub fn inheriting_rights(dir: u32) -> u64 {
    let mut st = [0u64; 3];
    // SAFETY: `st` is an 8-aligned 24-byte buffer, the size of an fdstat.
    match check(unsafe { raw::fd_fdstat_get(dir, st.as_mut_ptr().cast()) }) {
        Ok(()) => st[2],
        Err(_) => !0,
    }
}

/// `path_open` relative to the directory `dir`, asking for `rights` within
/// `inheriting` (what [`inheriting_rights`] reported for `dir`).
pub fn open(
    dir: (u32, u64),
    follow: u32,
    path: &str,
    oflags: u16,
    rights: u64,
) -> Result<Fd, Errno> {
    let (dir, inheriting) = dir;
    let mut fd = 0u32;
    // SAFETY: `path` is a live slice; `fd` a local the host writes.
    check(unsafe {
        raw::path_open(
            dir,
            follow,
            path.as_ptr(),
            path.len(),
            oflags,
            rights & inheriting,
            inheriting,
            0,
            &mut fd,
        )
    })?;
    Ok(Fd(fd))
}

/// `(filetype, size)` from a filestat: filetype u8 @16, size u64 @32.
fn filestat(call: impl FnOnce(*mut u8) -> i32) -> Result<(u8, u64), Errno> {
    let mut st = [0u64; 8];
    check(call(st.as_mut_ptr().cast()))?;
    Ok((st[2] as u8, st[4]))
}

pub fn fd_stat(fd: &Fd) -> Result<(u8, u64), Errno> {
    // SAFETY: `p` is the 8-aligned 64-byte buffer `filestat` passes.
    filestat(|p| unsafe { raw::fd_filestat_get(fd.0, p) })
}

pub fn path_stat(dir: u32, follow: u32, path: &str) -> Result<(u8, u64), Errno> {
    // SAFETY: as above, and `path` is a live slice.
    filestat(|p| unsafe { raw::path_filestat_get(dir, follow, path.as_ptr(), path.len(), p) })
}

pub fn seek(fd: &Fd, offset: u64) -> Result<(), Errno> {
    let offset = i64::try_from(offset).map_err(|_| EINVAL)?;
    let mut pos = 0u64;
    // SAFETY: `pos` is a local the host writes. Whence 0 = SET.
    check(unsafe { raw::fd_seek(fd.0, offset, 0, &mut pos) })
}

pub fn sync(fd: &Fd) -> Result<(), Errno> {
    // SAFETY: a plain call on a descriptor we own.
    check(unsafe { raw::fd_sync(fd.0) })
}

/// Fills `buf` with directory entries from `cookie` on; returns the bytes
/// used (less than `buf.len()` only at the end of the directory).
pub fn readdir(fd: &Fd, buf: &mut [u8], cookie: u64) -> Result<usize, Errno> {
    let mut used = 0usize;
    // SAFETY: `buf` is ours for the call; `used` is a local.
    check(unsafe { raw::fd_readdir(fd.0, buf.as_mut_ptr(), buf.len(), cookie, &mut used) })?;
    Ok(used.min(buf.len()))
}

/// `path_*` calls taking one path.
pub fn mkdir(dir: u32, path: &str) -> Result<(), Errno> {
    // SAFETY: `path` is a live slice.
    check(unsafe { raw::path_create_directory(dir, path.as_ptr(), path.len()) })
}

pub fn rmdir(dir: u32, path: &str) -> Result<(), Errno> {
    // SAFETY: `path` is a live slice.
    check(unsafe { raw::path_remove_directory(dir, path.as_ptr(), path.len()) })
}

pub fn unlink(dir: u32, path: &str) -> Result<(), Errno> {
    // SAFETY: `path` is a live slice.
    check(unsafe { raw::path_unlink_file(dir, path.as_ptr(), path.len()) })
}

pub fn rename(dir: u32, from: &str, to: &str) -> Result<(), Errno> {
    // SAFETY: both paths are live slices.
    check(unsafe { raw::path_rename(dir, from.as_ptr(), from.len(), dir, to.as_ptr(), to.len()) })
}

/// The target of the symlink at `path`, growing the buffer until it fits.
pub fn readlink(dir: u32, path: &str) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 256];
    loop {
        let mut used = 0usize;
        // SAFETY: `path` and `buf` are live slices; `used` is a local.
        check(unsafe {
            raw::path_readlink(
                dir,
                path.as_ptr(),
                path.len(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut used,
            )
        })?;
        // A full buffer may mean a cut-off target: try again with more room.
        if used < buf.len() || buf.len() >= 1 << 16 {
            buf.truncate(used.min(buf.len()));
            return Ok(buf);
        }
        buf.resize(buf.len() * 2, 0);
    }
}
