//! rtnetlink for legacy XDP attachment and TC (clsact qdisc + cls_bpf direct-action filters).
//!
//! A small message builder and parser over a raw `NETLINK_ROUTE` socket. Every request asks for
//! an acknowledgement; errors carry the kernel's extended-ack message when it sends one
//! (`NETLINK_EXT_ACK`). Sockets are opened per call, in the network namespace of the calling
//! thread, so a thread that entered another namespace operates there.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use super::uapi::consts::XDP_FLAGS_REPLACE;

// Constants from include/uapi/linux/{netlink,rtnetlink,if_link,pkt_sched,pkt_cls}.h (6.18).
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_ACK: u16 = 0x04;
const NLM_F_ECHO: u16 = 0x08;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
/// In an ack: the original request was not echoed back, only its header.
const NLM_F_CAPPED: u16 = 0x100;
/// In an ack: extended-ack attributes follow.
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;
const NLA_F_NESTED: u16 = 1 << 15;
const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | (1 << 14));

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const RTM_NEWTFILTER: u16 = 44;
const RTM_DELTFILTER: u16 = 45;
const RTM_GETTFILTER: u16 = 46;

const IFLA_XDP: u16 = 43;
const IFLA_XDP_FD: u16 = 1;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_XDP_FLAGS: u16 = 3;
const IFLA_XDP_PROG_ID: u16 = 4;
const IFLA_XDP_DRV_PROG_ID: u16 = 5;
const IFLA_XDP_SKB_PROG_ID: u16 = 6;
const IFLA_XDP_HW_PROG_ID: u16 = 7;
const IFLA_XDP_EXPECTED_FD: u16 = 8;

const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_FD: u16 = 6;
const TCA_BPF_NAME: u16 = 7;
const TCA_BPF_FLAGS: u16 = 8;
const TCA_BPF_ID: u16 = 11;
const TCA_BPF_FLAG_ACT_DIRECT: u32 = 1;

const TC_H_CLSACT: u32 = 0xFFFF_FFF1;
const TC_H_MIN_INGRESS: u32 = 0xFFF2;
const TC_H_MIN_EGRESS: u32 = 0xFFF3;
const ETH_P_ALL: u16 = 0x0003;

const NLMSG_HDR_LEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const TCMSG_LEN: usize = 20;

/// `TC_H_MAKE(major, minor)`.
const fn tc_h_make(major: u32, minor: u32) -> u32 {
    (major & 0xFFFF_0000) | (minor & 0x0000_FFFF)
}

/// A failed netlink operation, with the kernel's extended-ack message when present.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed: {source}{}", .message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
pub struct NetlinkError {
    /// What we tried, e.g. `"XDP attach"`.
    pub operation: &'static str,
    /// The errno (or I/O problem).
    #[source]
    pub source: io::Error,
    /// The kernel's explanation (`NLMSGERR_ATTR_MSG`).
    pub message: Option<String>,
}

impl NetlinkError {
    fn io(operation: &'static str, source: io::Error) -> NetlinkError {
        NetlinkError {
            operation,
            source,
            message: None,
        }
    }

    fn malformed(operation: &'static str, what: &str) -> NetlinkError {
        NetlinkError::io(
            operation,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("malformed netlink reply: {what}"),
            ),
        )
    }

    /// The errno, if the kernel reported one.
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// Builds one netlink request.
#[derive(Debug, Clone)]
pub(crate) struct MessageBuilder {
    buf: Vec<u8>,
}

impl MessageBuilder {
    /// Starts a message with its fixed header (`ifinfomsg`, `tcmsg`, ...) already encoded.
    pub(crate) fn new(msg_type: u16, flags: u16, family_header: &[u8]) -> MessageBuilder {
        let mut buf = vec![0u8; NLMSG_HDR_LEN];
        buf[4..6].copy_from_slice(&msg_type.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        let mut builder = MessageBuilder { buf };
        builder.push_aligned(family_header);
        builder
    }

    fn push_aligned(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.buf.resize(align4(self.buf.len()), 0);
    }

    /// Appends an attribute.
    pub(crate) fn attr(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        let len = (4 + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.push_aligned(payload);
        self
    }

    pub(crate) fn attr_u32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.attr(kind, &value.to_ne_bytes())
    }

    pub(crate) fn attr_i32(&mut self, kind: u16, value: i32) -> &mut Self {
        self.attr(kind, &value.to_ne_bytes())
    }

    /// A NUL-terminated string attribute.
    pub(crate) fn attr_str(&mut self, kind: u16, value: &str) -> &mut Self {
        let mut bytes = value.as_bytes().to_vec();
        bytes.push(0);
        self.attr(kind, &bytes)
    }

    /// Opens a nested attribute; close it with [`MessageBuilder::nest_end`].
    pub(crate) fn nest_start(&mut self, kind: u16) -> usize {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        start
    }

    pub(crate) fn nest_end(&mut self, start: usize) -> &mut Self {
        let len = (self.buf.len() - start) as u16;
        if let Some(slot) = self.buf.get_mut(start..start + 2) {
            slot.copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// Sets length and sequence number and returns the bytes.
    pub(crate) fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

/// One received netlink message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) msg_type: u16,
    pub(crate) flags: u16,
    pub(crate) seq: u32,
    pub(crate) payload: Vec<u8>,
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    bytes
        .get(at..at + 2)?
        .try_into()
        .ok()
        .map(u16::from_ne_bytes)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)?
        .try_into()
        .ok()
        .map(u32::from_ne_bytes)
}

/// Splits a datagram into messages.
pub(crate) fn parse_messages(mut buf: &[u8]) -> Result<Vec<Message>, &'static str> {
    let mut out = Vec::new();
    while buf.len() >= NLMSG_HDR_LEN {
        let len = read_u32(buf, 0).ok_or("short header")? as usize;
        if len < NLMSG_HDR_LEN || len > buf.len() {
            return Err("message length out of range");
        }
        out.push(Message {
            msg_type: read_u16(buf, 4).ok_or("short header")?,
            flags: read_u16(buf, 6).ok_or("short header")?,
            seq: read_u32(buf, 8).ok_or("short header")?,
            payload: buf.get(NLMSG_HDR_LEN..len).ok_or("short payload")?.to_vec(),
        });
        buf = buf.get(align4(len).min(buf.len())..).unwrap_or_default();
    }
    Ok(out)
}

/// Iterates over the attributes in `buf`, yielding `(type, payload)` with the nested and
/// byte-order flags removed from the type. Stops at the first malformed attribute.
pub(crate) fn attributes(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        let len = read_u16(rest, 0)? as usize;
        let kind = read_u16(rest, 2)?;
        if len < 4 {
            return None;
        }
        let payload = rest.get(4..len)?;
        rest = rest.get(align4(len).min(rest.len())..).unwrap_or_default();
        Some((kind & NLA_TYPE_MASK, payload))
    })
}

fn find_attr(buf: &[u8], kind: u16) -> Option<&[u8]> {
    attributes(buf).find(|(k, _)| *k == kind).map(|(_, p)| p)
}

fn attr_u32(payload: &[u8]) -> Option<u32> {
    read_u32(payload, 0)
}

fn attr_string(payload: &[u8]) -> String {
    super::syscall::name_from_bytes(payload)
}

/// The errno and extended-ack message of an `NLMSG_ERROR` payload; errno 0 is an ack.
pub(crate) fn parse_error(message: &Message) -> Result<(i32, Option<String>), &'static str> {
    let payload = &message.payload;
    let error = read_u32(payload, 0).ok_or("short error message")? as i32;
    let original_len = read_u32(payload, 4).ok_or("short error message")? as usize;
    let mut text = None;
    if message.flags & NLM_F_ACK_TLVS != 0 {
        let skip = if message.flags & NLM_F_CAPPED != 0 {
            NLMSG_HDR_LEN
        } else {
            align4(original_len.max(NLMSG_HDR_LEN))
        };
        if let Some(tlvs) = payload.get(4 + skip..) {
            text = find_attr(tlvs, NLMSGERR_ATTR_MSG).map(attr_string);
        }
    }
    Ok((error.saturating_neg(), text))
}

static SEQUENCE: AtomicU32 = AtomicU32::new(1);

/// A `NETLINK_ROUTE` socket.
struct Socket {
    fd: OwnedFd,
    operation: &'static str,
}

impl Socket {
    fn open(operation: &'static str) -> Result<Socket, NetlinkError> {
        // SAFETY: plain socket(2) call; on success we own the returned fd.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(NetlinkError::io(operation, io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a fresh fd owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let socket = Socket { fd, operation };
        // Extended acks and capped acks are best effort: old kernels lack them.
        socket.set_option(NETLINK_EXT_ACK, 1);
        socket.set_option(NETLINK_CAP_ACK, 1);
        let timeout = libc::timeval {
            tv_sec: 10,
            tv_usec: 0,
        };
        // SAFETY: `timeout` is a valid timeval for the call, with its size.
        unsafe {
            libc::setsockopt(
                socket.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &timeout as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        // SAFETY: zeroed sockaddr_nl is valid (pid 0: the kernel assigns one).
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `addr` is a sockaddr_nl of the given size.
        let ret = unsafe {
            libc::bind(
                socket.fd.as_raw_fd(),
                &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if ret < 0 {
            return Err(NetlinkError::io(operation, io::Error::last_os_error()));
        }
        Ok(socket)
    }

    fn set_option(&self, option: libc::c_int, value: libc::c_int) {
        // SAFETY: `value` is a c_int alive for the call, with its size.
        unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_NETLINK,
                option,
                &value as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    }

    /// Sends `request` and collects the replies until the ack (or `NLMSG_DONE` for dumps).
    fn request(&self, request: MessageBuilder) -> Result<Vec<Message>, NetlinkError> {
        let op = self.operation;
        let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let bytes = request.finish(seq);
        // SAFETY: `bytes` is a readable buffer of its length.
        let sent = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                bytes.as_ptr() as *const libc::c_void,
                bytes.len(),
                0,
            )
        };
        if sent < 0 {
            return Err(NetlinkError::io(op, io::Error::last_os_error()));
        }
        let mut replies = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: `buf` is a writable buffer of its length; MSG_TRUNC makes the kernel
            // report the full datagram size without writing past the buffer.
            let got = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if got < 0 {
                let err = io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(NetlinkError::io(op, err));
            }
            let got = got as usize;
            if got > buf.len() {
                return Err(NetlinkError::malformed(op, "reply larger than 64 KiB"));
            }
            let messages = parse_messages(buf.get(..got).unwrap_or_default())
                .map_err(|what| NetlinkError::malformed(op, what))?;
            for message in messages {
                if message.seq != seq {
                    continue;
                }
                match message.msg_type {
                    NLMSG_NOOP => {}
                    NLMSG_ERROR => {
                        let (errno, text) = parse_error(&message)
                            .map_err(|what| NetlinkError::malformed(op, what))?;
                        if errno == 0 {
                            return Ok(replies);
                        }
                        return Err(NetlinkError {
                            operation: op,
                            source: io::Error::from_raw_os_error(errno),
                            message: text,
                        });
                    }
                    NLMSG_DONE => {
                        // A dump may end with an error code in the DONE payload.
                        let code = read_u32(&message.payload, 0).map_or(0, |c| c as i32);
                        if code < 0 {
                            return Err(NetlinkError::io(
                                op,
                                io::Error::from_raw_os_error(code.saturating_neg()),
                            ));
                        }
                        return Ok(replies);
                    }
                    _ => replies.push(message),
                }
            }
        }
    }
}

fn ifinfomsg(ifindex: u32) -> [u8; IFINFOMSG_LEN] {
    let mut header = [0u8; IFINFOMSG_LEN];
    header[0] = libc::AF_UNSPEC as u8;
    header[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    header
}

fn tcmsg(ifindex: u32, handle: u32, parent: u32, info: u32) -> [u8; TCMSG_LEN] {
    let mut header = [0u8; TCMSG_LEN];
    header[0] = libc::AF_UNSPEC as u8;
    header[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    header[8..12].copy_from_slice(&handle.to_ne_bytes());
    header[12..16].copy_from_slice(&parent.to_ne_bytes());
    header[16..20].copy_from_slice(&info.to_ne_bytes());
    header
}

fn xdp_request(
    ifindex: u32,
    fd: i32,
    flags: u32,
    expected: Option<BorrowedFd<'_>>,
) -> MessageBuilder {
    let mut msg = MessageBuilder::new(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, &ifinfomsg(ifindex));
    let nest = msg.nest_start(IFLA_XDP);
    msg.attr_i32(IFLA_XDP_FD, fd);
    match expected {
        Some(expected) => {
            msg.attr_u32(IFLA_XDP_FLAGS, flags | XDP_FLAGS_REPLACE);
            msg.attr_i32(IFLA_XDP_EXPECTED_FD, expected.as_raw_fd());
        }
        None => {
            msg.attr_u32(IFLA_XDP_FLAGS, flags);
        }
    }
    msg.nest_end(nest);
    msg
}

/// Attaches an XDP program to an interface (`IFLA_XDP`). `flags`: `XDP_FLAGS_*` mode and
/// `XDP_FLAGS_UPDATE_IF_NOEXIST`; with `replace`, only if that program is the current one
/// (`XDP_FLAGS_REPLACE` is set for you).
pub fn xdp_attach(
    ifindex: u32,
    prog: BorrowedFd<'_>,
    flags: u32,
    replace: Option<BorrowedFd<'_>>,
) -> Result<(), NetlinkError> {
    let socket = Socket::open("XDP attach")?;
    socket
        .request(xdp_request(ifindex, prog.as_raw_fd(), flags, replace))
        .map(|_| ())
}

/// Detaches the XDP program in the mode given by `flags`; with `expected`, only if that is the
/// attached program.
pub fn xdp_detach(
    ifindex: u32,
    flags: u32,
    expected: Option<BorrowedFd<'_>>,
) -> Result<(), NetlinkError> {
    let socket = Socket::open("XDP detach")?;
    socket
        .request(xdp_request(ifindex, -1, flags, expected))
        .map(|_| ())
}

/// XDP state of an interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XdpQuery {
    /// `XDP_ATTACHED_*`.
    pub attach_mode: u8,
    /// The program, when exactly one mode is in use.
    pub prog_id: Option<u32>,
    /// Program in generic (skb) mode.
    pub skb_prog_id: Option<u32>,
    /// Program in driver mode.
    pub drv_prog_id: Option<u32>,
    /// Program in hardware mode.
    pub hw_prog_id: Option<u32>,
}

pub(crate) fn parse_xdp_query(link_payload: &[u8]) -> Option<XdpQuery> {
    let attrs = link_payload.get(IFINFOMSG_LEN..)?;
    let xdp = find_attr(attrs, IFLA_XDP)?;
    let mut out = XdpQuery::default();
    for (kind, payload) in attributes(xdp) {
        match kind {
            IFLA_XDP_ATTACHED => out.attach_mode = payload.first().copied().unwrap_or(0),
            IFLA_XDP_PROG_ID => out.prog_id = attr_u32(payload),
            IFLA_XDP_SKB_PROG_ID => out.skb_prog_id = attr_u32(payload),
            IFLA_XDP_DRV_PROG_ID => out.drv_prog_id = attr_u32(payload),
            IFLA_XDP_HW_PROG_ID => out.hw_prog_id = attr_u32(payload),
            _ => {}
        }
    }
    Some(out)
}

/// Reads the XDP state of an interface (`RTM_GETLINK`).
pub fn xdp_query(ifindex: u32) -> Result<XdpQuery, NetlinkError> {
    const OP: &str = "XDP query";
    let socket = Socket::open(OP)?;
    let msg = MessageBuilder::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &ifinfomsg(ifindex));
    let replies = socket.request(msg)?;
    let link = replies
        .iter()
        .find(|m| m.msg_type == RTM_NEWLINK)
        .ok_or_else(|| NetlinkError::malformed(OP, "no RTM_NEWLINK in the reply"))?;
    Ok(parse_xdp_query(&link.payload).unwrap_or_default())
}

fn clsact_request(msg_type: u16, flags: u16, ifindex: u32) -> MessageBuilder {
    let header = tcmsg(ifindex, tc_h_make(TC_H_CLSACT, 0), TC_H_CLSACT, 0);
    let mut msg = MessageBuilder::new(msg_type, flags, &header);
    msg.attr_str(TCA_KIND, "clsact");
    msg
}

/// Adds a clsact qdisc to an interface. `Ok(false)` if one already existed.
pub fn qdisc_add_clsact(ifindex: u32) -> Result<bool, NetlinkError> {
    let socket = Socket::open("clsact qdisc add")?;
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    match socket.request(clsact_request(RTM_NEWQDISC, flags, ifindex)) {
        Ok(_) => Ok(true),
        Err(err) if err.errno() == Some(libc::EEXIST) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Deletes the clsact qdisc of an interface (and every filter on it).
pub fn qdisc_del_clsact(ifindex: u32) -> Result<(), NetlinkError> {
    let socket = Socket::open("clsact qdisc delete")?;
    socket
        .request(clsact_request(
            RTM_DELQDISC,
            NLM_F_REQUEST | NLM_F_ACK,
            ifindex,
        ))
        .map(|_| ())
}

/// Which clsact hook a filter sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcDirection {
    /// Ingress.
    Ingress,
    /// Egress.
    Egress,
}

impl TcDirection {
    fn parent(self) -> u32 {
        match self {
            TcDirection::Ingress => tc_h_make(TC_H_CLSACT, TC_H_MIN_INGRESS),
            TcDirection::Egress => tc_h_make(TC_H_CLSACT, TC_H_MIN_EGRESS),
        }
    }
}

/// `tcm_info` of a filter: priority in the high half, protocol (network order) in the low.
fn filter_info(priority: u16) -> u32 {
    tc_h_make((priority as u32) << 16, ETH_P_ALL.to_be() as u32)
}

/// A cls_bpf filter found on a clsact hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcFilterInfo {
    /// Priority.
    pub priority: u16,
    /// Handle.
    pub handle: u32,
    /// The attached program's id.
    pub prog_id: u32,
    /// The name given at attach time (bpftool shows it).
    pub name: String,
}

pub(crate) fn parse_filter(payload: &[u8]) -> Option<TcFilterInfo> {
    let handle = read_u32(payload, 8)?;
    let info = read_u32(payload, 16)?;
    let attrs = payload.get(TCMSG_LEN..)?;
    let kind = find_attr(attrs, TCA_KIND).map(attr_string)?;
    if kind != "bpf" || handle == 0 {
        return None;
    }
    let options = find_attr(attrs, TCA_OPTIONS)?;
    Some(TcFilterInfo {
        priority: (info >> 16) as u16,
        handle,
        prog_id: find_attr(options, TCA_BPF_ID)
            .and_then(attr_u32)
            .unwrap_or(0),
        name: find_attr(options, TCA_BPF_NAME)
            .map(attr_string)
            .unwrap_or_default(),
    })
}

/// Attaches a cls_bpf filter in direct-action mode on a clsact hook, for every protocol.
/// `priority` 0 and `handle` 0 let the kernel choose; the chosen values are returned.
pub fn tc_filter_attach(
    ifindex: u32,
    direction: TcDirection,
    priority: u16,
    handle: u32,
    prog: BorrowedFd<'_>,
    name: &str,
) -> Result<(u16, u32), NetlinkError> {
    const OP: &str = "TC filter attach";
    let socket = Socket::open(OP)?;
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO;
    let header = tcmsg(ifindex, handle, direction.parent(), filter_info(priority));
    let mut msg = MessageBuilder::new(RTM_NEWTFILTER, flags, &header);
    msg.attr_str(TCA_KIND, "bpf");
    let nest = msg.nest_start(TCA_OPTIONS);
    msg.attr_u32(TCA_BPF_FD, prog.as_raw_fd() as u32);
    msg.attr_str(TCA_BPF_NAME, name);
    msg.attr_u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
    msg.nest_end(nest);
    let replies = socket.request(msg)?;
    // NLM_F_ECHO makes the kernel send the created filter back, with the priority and handle
    // it chose.
    replies
        .iter()
        .filter(|m| m.msg_type == RTM_NEWTFILTER)
        .find_map(|m| parse_filter(&m.payload))
        .map(|f| (f.priority, f.handle))
        .ok_or_else(|| NetlinkError::malformed(OP, "the kernel did not echo the new filter"))
}

/// Removes a cls_bpf filter by priority and handle.
pub fn tc_filter_detach(
    ifindex: u32,
    direction: TcDirection,
    priority: u16,
    handle: u32,
) -> Result<(), NetlinkError> {
    let socket = Socket::open("TC filter detach")?;
    let header = tcmsg(ifindex, handle, direction.parent(), filter_info(priority));
    let mut msg = MessageBuilder::new(RTM_DELTFILTER, NLM_F_REQUEST | NLM_F_ACK, &header);
    msg.attr_str(TCA_KIND, "bpf");
    socket.request(msg).map(|_| ())
}

/// Lists the cls_bpf filters on a clsact hook.
pub fn tc_filter_query(
    ifindex: u32,
    direction: TcDirection,
) -> Result<Vec<TcFilterInfo>, NetlinkError> {
    let socket = Socket::open("TC filter query")?;
    let header = tcmsg(ifindex, 0, direction.parent(), 0);
    let msg = MessageBuilder::new(RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP, &header);
    let replies = socket.request(msg)?;
    Ok(replies
        .iter()
        .filter(|m| m.msg_type == RTM_NEWTFILTER)
        .filter_map(|m| parse_filter(&m.payload))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_encodes_header_attrs_and_nests() {
        let mut msg = MessageBuilder::new(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, &ifinfomsg(7));
        let nest = msg.nest_start(IFLA_XDP);
        msg.attr_i32(IFLA_XDP_FD, 5).attr_u32(IFLA_XDP_FLAGS, 2);
        msg.nest_end(nest);
        let bytes = msg.finish(42);
        // header 16 + ifinfomsg 16 + nest header 4 + two 8-byte attributes
        assert_eq!(bytes.len(), 16 + 16 + 4 + 8 + 8);
        let messages = parse_messages(&bytes).expect("parses");
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert_eq!(
            (m.msg_type, m.flags, m.seq),
            (RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, 42)
        );
        assert_eq!(read_u32(&m.payload, 4), Some(7));
        let attrs: Vec<_> = attributes(&m.payload[IFINFOMSG_LEN..]).collect();
        assert_eq!(attrs.len(), 1);
        assert_eq!(attrs[0].0, IFLA_XDP);
        let inner: Vec<_> = attributes(attrs[0].1).collect();
        assert_eq!(
            inner,
            vec![
                (IFLA_XDP_FD, &5i32.to_ne_bytes()[..]),
                (IFLA_XDP_FLAGS, &2u32.to_ne_bytes()[..])
            ]
        );
    }

    #[test]
    fn strings_are_nul_terminated_and_padded() {
        let mut msg = MessageBuilder::new(RTM_NEWQDISC, NLM_F_REQUEST, &tcmsg(1, 0, 0, 0));
        msg.attr_str(TCA_KIND, "clsact");
        let bytes = msg.finish(1);
        // "clsact\0" is 7 bytes: attribute length 11, padded to 12.
        assert_eq!(bytes.len(), 16 + 20 + 12);
        let m = &parse_messages(&bytes).expect("parses")[0];
        let (kind, payload) = attributes(&m.payload[TCMSG_LEN..])
            .next()
            .expect("one attr");
        assert_eq!(kind, TCA_KIND);
        assert_eq!(attr_string(payload), "clsact");
    }

    #[test]
    fn xdp_query_round_trip() {
        let mut msg = MessageBuilder::new(RTM_NEWLINK, 0, &ifinfomsg(3));
        msg.attr_str(3, "veth0");
        let nest = msg.nest_start(IFLA_XDP);
        msg.attr(IFLA_XDP_ATTACHED, &[2]);
        msg.attr_u32(IFLA_XDP_SKB_PROG_ID, 99);
        msg.attr_u32(IFLA_XDP_PROG_ID, 99);
        msg.nest_end(nest);
        let bytes = msg.finish(9);
        let m = &parse_messages(&bytes).expect("parses")[0];
        let q = parse_xdp_query(&m.payload).expect("has IFLA_XDP");
        assert_eq!(
            q,
            XdpQuery {
                attach_mode: 2,
                prog_id: Some(99),
                skb_prog_id: Some(99),
                drv_prog_id: None,
                hw_prog_id: None
            }
        );
    }

    #[test]
    fn filter_round_trip() {
        let header = tcmsg(4, 0x1234, TcDirection::Egress.parent(), filter_info(7));
        let mut msg = MessageBuilder::new(RTM_NEWTFILTER, 0, &header);
        msg.attr_str(TCA_KIND, "bpf");
        let nest = msg.nest_start(TCA_OPTIONS);
        msg.attr_u32(TCA_BPF_ID, 55)
            .attr_str(TCA_BPF_NAME, "prog[name]");
        msg.nest_end(nest);
        let bytes = msg.finish(1);
        let m = &parse_messages(&bytes).expect("parses")[0];
        assert_eq!(
            parse_filter(&m.payload),
            Some(TcFilterInfo {
                priority: 7,
                handle: 0x1234,
                prog_id: 55,
                name: "prog[name]".into()
            })
        );
        assert_eq!(TcDirection::Ingress.parent(), 0xFFFF_FFF2);
        assert_eq!(filter_info(1) & 0xFFFF, u32::from(ETH_P_ALL.to_be()));
    }

    #[test]
    fn error_with_extack_message() {
        // An NLMSG_ERROR with a capped original header and an NLMSGERR_ATTR_MSG.
        let mut payload = (-libc::EBUSY).to_ne_bytes().to_vec();
        let mut original = vec![0u8; NLMSG_HDR_LEN];
        original[0..4].copy_from_slice(&40u32.to_ne_bytes());
        payload.extend_from_slice(&original);
        let mut tlv = MessageBuilder { buf: Vec::new() };
        tlv.attr_str(NLMSGERR_ATTR_MSG, "XDP program already attached");
        payload.extend_from_slice(&tlv.buf);
        let message = Message {
            msg_type: NLMSG_ERROR,
            flags: NLM_F_CAPPED | NLM_F_ACK_TLVS,
            seq: 1,
            payload,
        };
        let (errno, text) = parse_error(&message).expect("parses");
        assert_eq!(errno, libc::EBUSY);
        assert_eq!(text.as_deref(), Some("XDP program already attached"));
        let err = NetlinkError {
            operation: "XDP attach",
            source: io::Error::from_raw_os_error(errno),
            message: text,
        };
        assert_eq!(
            err.to_string(),
            "XDP attach failed: Device or resource busy (os error 16) (XDP program already attached)"
        );
    }

    #[test]
    fn truncated_input_is_rejected_not_panicking() {
        assert!(parse_messages(&[0x40, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert_eq!(attributes(&[8, 0, 1, 0, 1]).count(), 0);
        assert_eq!(attributes(&[2, 0, 1, 0]).count(), 0);
        assert!(parse_filter(&[0; 10]).is_none());
        assert!(parse_xdp_query(&[0; 3]).is_none());
    }
}
