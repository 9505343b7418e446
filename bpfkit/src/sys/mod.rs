//! The syscall layer: the only place in bpfkit that talks to the kernel directly.
//!
//! * [`bpf`] is the single entry point for `bpf(2)`. It takes one typed attribute struct per
//!   command (see [`uapi`]), retries `EINTR` and `EAGAIN` a bounded number of times and turns
//!   failures into [`SyscallError`], which names the command and the errno.
//! * Everything else in this module is a safe wrapper around one command: maps
//!   ([`map_create`], [`map_lookup_elem`], batches, ...), programs ([`prog_load`] with the
//!   verifier-log retry policy, [`prog_test_run`]), links ([`link_create`], [`link_update`],
//!   [`link_detach`]), legacy attachment ([`prog_attach`], [`prog_query`]), pinning, ids and
//!   `BPF_OBJ_GET_INFO_BY_FD` ([`prog_info`], [`map_info`], [`link_info`]), [`btf_load`].
//! * Perf buffers: [`perf_event_open_bpf_output`] (one BPF output event per CPU), [`Epoll`] to
//!   wait on all of them, [`online_cpus`].
//! * Tracepoints: [`perf_event_open_tracepoint`], the legacy perf ioctls
//!   ([`perf_event_set_bpf`], [`perf_event_enable`]) and a private tracefs mount
//!   ([`mount_tracefs`], [`unmount`]) to read tracepoint ids.
//! * [`netlink`] speaks rtnetlink for legacy XDP and TC (clsact + cls_bpf) attachment.
//! * Helpers: socket filters ([`attach_socket_filter`]), [`possible_cpus`], [`ifindex`] and the
//!   opt-in [`bump_memlock_rlimit`] (never called by bpfkit itself: since 5.11 BPF memory is
//!   charged to the memory cgroup, and raising the limit needs `CAP_SYS_RESOURCE`).
//!
//! File descriptors are [`OwnedFd`](std::os::fd::OwnedFd) / [`BorrowedFd`](std::os::fd::BorrowedFd).
//! Because the kernel reads fd 0 as "no fd" in several attributes, fds handed to the kernel are
//! duplicated above 2 when they happen to be 0, and fds created here are always above 2.

mod epoll;
mod link;
mod map;
mod misc;
pub mod mmap;
pub mod netlink;
mod object;
mod perf_event;
mod prog;
mod release;
mod syscall;
pub mod uapi;

#[cfg(test)]
pub(crate) mod tests;

pub use epoll::Epoll;
pub use link::{
    link_create, link_detach, link_update, prog_attach, prog_detach, prog_query, LinkCreate,
    LinkExtra, LinkTarget, ProgQuery, Relative,
};
pub use map::{
    batch_token_size, map_create, map_delete_batch, map_delete_elem, map_freeze, map_get_next_key,
    map_lookup_and_delete_batch, map_lookup_and_delete_elem, map_lookup_batch, map_lookup_elem,
    map_update_batch, map_update_elem, BatchResult, MapCreate, MapHandle,
};
pub(crate) use map::{is_per_cpu, per_cpu_stride};
pub use misc::{
    attach_socket_filter, bump_memlock_rlimit, detach_socket_filter, ifindex, online_cpus,
    possible_cpus,
};
pub use mmap::Mmap;
pub use object::{
    link_get_fd_by_id, link_get_next_id, link_info, map_get_fd_by_id, map_get_next_id, map_info,
    obj_get, obj_pin, prog_get_fd_by_id, prog_get_next_id, prog_info, prog_map_ids, LinkDetails,
    LinkInfo, MapInfo, ProgInfo,
};
pub use perf_event::{
    mount_tracefs, perf_event_disable, perf_event_enable, perf_event_open_bpf_output,
    perf_event_open_tracepoint, perf_event_set_bpf, unmount,
};
pub use prog::{
    btf_load, prog_load, prog_test_run, BtfLoadError, ProgLoad, ProgLoadError, TestRun,
    TestRunOutput,
};
pub use release::{effective_uid, kernel_release};
pub(crate) use syscall::AttrFd;
pub use syscall::{bpf, command_name, SyscallError};
