//! Program contexts: what the kernel passes to each program type, with typed accessors.
//!
//! Packet contexts ([`XdpContext`], [`SkBuffContext`]) give access to the packet only through
//! [`XdpContext::ptr_at`]-style methods that compare `data + offset + size` with `data_end`
//! before returning a pointer: that comparison, on packet pointers, is what the verifier needs to
//! see before it allows the access.

use core::ffi::c_void;
use core::mem::size_of;

/// The kernel's `struct xdp_md` (the fields programs read).
#[repr(C)]
pub struct XdpMd {
    /// Start of the packet.
    pub data: u32,
    /// End of the packet.
    pub data_end: u32,
    /// Start of the metadata area before the packet.
    pub data_meta: u32,
    /// The receiving interface.
    pub ingress_ifindex: u32,
    /// The receive queue.
    pub rx_queue_index: u32,
    /// The interface of a redirect target (devmap programs).
    pub egress_ifindex: u32,
}

/// The kernel's `struct __sk_buff`, up to `data_end` (the fields the contexts read).
#[repr(C)]
pub struct SkBuff {
    /// Packet length.
    pub len: u32,
    /// Packet type (`PACKET_HOST`, ...).
    pub pkt_type: u32,
    /// Firewall mark.
    pub mark: u32,
    /// Transmit queue.
    pub queue_mapping: u32,
    /// Ethernet protocol, network order.
    pub protocol: u32,
    /// Whether a VLAN tag is present.
    pub vlan_present: u32,
    /// VLAN tag.
    pub vlan_tci: u32,
    /// VLAN protocol.
    pub vlan_proto: u32,
    /// Queueing priority.
    pub priority: u32,
    /// Receiving interface.
    pub ingress_ifindex: u32,
    /// Current interface.
    pub ifindex: u32,
    /// Traffic control index.
    pub tc_index: u32,
    /// Control block shared between programs.
    pub cb: [u32; 5],
    /// Packet hash.
    pub hash: u32,
    /// TC class id.
    pub tc_classid: u32,
    /// Start of the linear packet data.
    pub data: u32,
    /// End of the linear packet data.
    pub data_end: u32,
}

/// Bounds-checked packet access shared by the packet contexts.
macro_rules! packet_access {
    () => {
        /// A pointer to a `T` at `offset` bytes into the packet, or `None` when the packet is
        /// shorter than `offset + size_of::<T>()`. The check is done on the packet pointers
        /// themselves, so the verifier accepts dereferencing the result.
        #[inline(always)]
        pub fn ptr_at<T>(&self, offset: usize) -> Option<*const T> {
            let start = self.data().wrapping_add(offset);
            if start.wrapping_add(size_of::<T>()) > self.data_end() {
                return None;
            }
            Some(start as *const T)
        }

        /// Like [`Self::ptr_at`], for writing (where the program type allows packet writes).
        #[inline(always)]
        pub fn ptr_at_mut<T>(&self, offset: usize) -> Option<*mut T> {
            self.ptr_at::<T>(offset).map(|pointer| pointer.cast_mut())
        }

        /// Copies the `T` at `offset` out of the packet (no alignment required), or `None` when
        /// the packet is too short.
        #[inline(always)]
        pub fn load<T: Copy>(&self, offset: usize) -> Option<T> {
            let pointer = self.ptr_at::<T>(offset)?;
            // SAFETY: ptr_at checked that size_of::<T>() bytes at pointer lie inside the packet;
            // the read is unaligned because packet headers are not aligned.
            Some(unsafe { core::ptr::read_unaligned(pointer) })
        }
    };
}

/// The context of an XDP program.
pub struct XdpContext {
    ctx: *mut XdpMd,
}

impl XdpContext {
    /// Wraps the kernel's context pointer.
    ///
    /// # Safety
    /// `ctx` must be the `struct xdp_md *` the kernel passed to the program.
    #[inline(always)]
    pub unsafe fn new(ctx: *mut c_void) -> XdpContext {
        XdpContext { ctx: ctx.cast() }
    }

    /// The raw context pointer, for helpers.
    #[inline(always)]
    pub fn as_ptr(&self) -> *mut c_void {
        self.ctx.cast()
    }

    /// The packet's start, as an address.
    #[inline(always)]
    pub fn data(&self) -> usize {
        // SAFETY: ctx is the kernel's xdp_md; the verifier rewrites this load into the packet pointer.
        unsafe { (*self.ctx).data as usize }
    }

    /// The packet's end, as an address.
    #[inline(always)]
    pub fn data_end(&self) -> usize {
        // SAFETY: as in data().
        unsafe { (*self.ctx).data_end as usize }
    }

    /// The interface the packet arrived on.
    #[inline(always)]
    pub fn ingress_ifindex(&self) -> u32 {
        // SAFETY: ctx is the kernel's xdp_md, readable at this field.
        unsafe { (*self.ctx).ingress_ifindex }
    }

    /// The receive queue the packet arrived on: the key of an AF_XDP socket map
    /// ([`crate::maps::XskMap`]), whose sockets are each bound to one queue.
    #[inline(always)]
    pub fn rx_queue_index(&self) -> u32 {
        // SAFETY: ctx is the kernel's xdp_md, readable at this field.
        unsafe { (*self.ctx).rx_queue_index }
    }

    packet_access!();
}

/// The context of socket-buffer programs: TC classifiers, socket filters, cgroup skb, sk_skb.
///
/// Direct packet access ([`SkBuffContext::ptr_at`]) is allowed for TC, cgroup skb (read) and
/// sk_skb programs; socket filters must not use it (the verifier rejects the `data` loads).
pub struct SkBuffContext {
    skb: *mut SkBuff,
}

/// The context of a TC classifier.
pub type TcContext = SkBuffContext;

impl SkBuffContext {
    /// Wraps the kernel's context pointer.
    ///
    /// # Safety
    /// `ctx` must be the `struct __sk_buff *` the kernel passed to the program.
    #[inline(always)]
    pub unsafe fn new(ctx: *mut c_void) -> SkBuffContext {
        SkBuffContext { skb: ctx.cast() }
    }

    /// The raw context pointer, for helpers.
    #[inline(always)]
    pub fn as_ptr(&self) -> *mut c_void {
        self.skb.cast()
    }

    /// The packet length.
    #[inline(always)]
    pub fn len(&self) -> u32 {
        // SAFETY: skb is the kernel's __sk_buff, readable at this field.
        unsafe { (*self.skb).len }
    }

    /// Whether the packet is empty.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Ethernet protocol, in host order.
    #[inline(always)]
    pub fn protocol(&self) -> u16 {
        // SAFETY: skb is the kernel's __sk_buff, readable at this field.
        u16::from_be(unsafe { (*self.skb).protocol } as u16)
    }

    /// Replaces `from` by `to` in the L3 (IP header) checksum at `offset`
    /// (`bpf_l3_csum_replace`); `size` is the width of the changed field (2 or 4). TC only.
    #[inline(always)]
    pub fn l3_csum_replace(&self, offset: u32, from: u64, to: u64, size: u64) -> Result<(), i64> {
        // SAFETY: `skb` is the context the kernel passed; the helper checks offset and size.
        let rc =
            unsafe { crate::helpers::bpf_l3_csum_replace(self.skb.cast(), offset, from, to, size) };
        if rc < 0 {
            Err(rc)
        } else {
            Ok(())
        }
    }

    /// Replaces `from` by `to` in the L4 (TCP/UDP) checksum at `offset`
    /// (`bpf_l4_csum_replace`); `flags` carries the field width and `BPF_F_PSEUDO_HDR`. TC only.
    #[inline(always)]
    pub fn l4_csum_replace(&self, offset: u32, from: u64, to: u64, flags: u64) -> Result<(), i64> {
        // SAFETY: as in `l3_csum_replace`.
        let rc = unsafe {
            crate::helpers::bpf_l4_csum_replace(self.skb.cast(), offset, from, to, flags)
        };
        if rc < 0 {
            Err(rc)
        } else {
            Ok(())
        }
    }

    /// Copies the `T` at `offset` bytes into the packet (linear or not) with
    /// `bpf_skb_load_bytes`, or returns the kernel's negative error when the packet is shorter.
    /// Works in every socket-buffer program type, socket filters included.
    #[inline(always)]
    pub fn load_bytes<T: Copy>(&self, offset: u32) -> Result<T, i64> {
        let mut value = core::mem::MaybeUninit::<T>::uninit();
        // SAFETY: the destination is a writable local of size_of::<T>() bytes; the helper checks
        // the packet bounds itself.
        let rc = unsafe {
            crate::helpers::bpf_skb_load_bytes(
                self.skb.cast_const().cast(),
                offset,
                value.as_mut_ptr().cast(),
                size_of::<T>() as u32,
            )
        };
        if rc < 0 {
            return Err(rc);
        }
        // SAFETY: the helper succeeded, so every byte of the value was written.
        Ok(unsafe { value.assume_init() })
    }

    /// The start of the linear packet data, as an address.
    #[inline(always)]
    pub fn data(&self) -> usize {
        // SAFETY: skb is the kernel's __sk_buff; the verifier rewrites this load.
        unsafe { (*self.skb).data as usize }
    }

    /// The end of the linear packet data, as an address.
    #[inline(always)]
    pub fn data_end(&self) -> usize {
        // SAFETY: as in data().
        unsafe { (*self.skb).data_end as usize }
    }

    packet_access!();
}

/// The context of a tracepoint program: the tracepoint's record, laid out as its `format` file
/// in tracefs describes (the first 8 bytes are the common fields).
pub struct TracePointContext {
    ctx: *mut c_void,
}

impl TracePointContext {
    /// Wraps the kernel's context pointer.
    ///
    /// # Safety
    /// `ctx` must be the pointer the kernel passed to the program.
    #[inline(always)]
    pub unsafe fn new(ctx: *mut c_void) -> TracePointContext {
        TracePointContext { ctx }
    }

    /// The raw context pointer, for helpers.
    #[inline(always)]
    pub fn as_ptr(&self) -> *mut c_void {
        self.ctx
    }

    /// Reads the field of type `T` at `offset` bytes into the record (offsets from the
    /// tracepoint's `format` file).
    #[inline(always)]
    pub fn read_at<T: Copy>(&self, offset: usize) -> Result<T, i64> {
        crate::helpers::probe_read_kernel(self.ctx.cast::<u8>().wrapping_add(offset).cast::<T>())
    }
}

/// Contexts whose arguments are an array of `u64`: raw tracepoints (`struct
/// bpf_raw_tracepoint_args`), BTF tracepoints, fentry/fexit and LSM programs.
macro_rules! u64_args_context {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name {
            args: *const u64,
        }

        impl $name {
            /// Wraps the kernel's context pointer.
            ///
            /// # Safety
            /// `ctx` must be the pointer the kernel passed to the program.
            #[inline(always)]
            pub unsafe fn new(ctx: *mut c_void) -> $name {
                $name { args: ctx.cast_const().cast() }
            }

            /// The raw context pointer, for helpers.
            #[inline(always)]
            pub fn as_ptr(&self) -> *mut c_void {
                self.args.cast_mut().cast()
            }

            /// Argument `index` as a raw `u64` (pointers and integers alike). The index must be
            /// below the traced function's argument count (the verifier checks it).
            #[inline(always)]
            pub fn arg(&self, index: usize) -> u64 {
                // SAFETY: the context is an array of u64 arguments; the verifier rejects an index
                // beyond the function's arguments.
                unsafe { *self.args.wrapping_add(index) }
            }
        }
    };
}

u64_args_context!(
    /// The context of a raw tracepoint: the tracepoint's arguments as `u64`s.
    RawTracePointContext
);
u64_args_context!(
    /// The context of BTF tracepoint, fentry/fexit and LSM programs: the arguments as `u64`s.
    BtfTracePointContext
);

/// The context of kprobes and uprobes: the saved registers (`struct pt_regs`).
///
/// Argument registers depend on the traced architecture, which the build script takes from
/// `--cfg bpf_target_arch="x86_64"` (or `"aarch64"`) in RUSTFLAGS, else from the
/// `BPFKIT_TARGET_ARCH` variable, else from the machine doing the build. [`ProbeContext::arg`]
/// and [`ProbeContext::ret`] exist for x86_64 and aarch64.
pub struct ProbeContext {
    regs: *mut c_void,
}

impl ProbeContext {
    /// Wraps the kernel's context pointer.
    ///
    /// # Safety
    /// `ctx` must be the `struct pt_regs *` the kernel passed to the program.
    #[inline(always)]
    pub unsafe fn new(ctx: *mut c_void) -> ProbeContext {
        ProbeContext { regs: ctx }
    }

    /// The raw context pointer, for helpers.
    #[inline(always)]
    pub fn as_ptr(&self) -> *mut c_void {
        self.regs
    }

    #[cfg(any(bpf_target_arch = "x86_64", bpf_target_arch = "aarch64"))]
    #[inline(always)]
    fn register(&self, offset: usize) -> u64 {
        // SAFETY: pt_regs is readable by kprobe programs at any aligned offset within it, and the
        // offsets come from the architecture's layout below.
        unsafe { *self.regs.cast::<u8>().wrapping_add(offset).cast::<u64>() }
    }

    /// Function argument `index` (0-based, register arguments only), or `None` beyond them.
    #[cfg(bpf_target_arch = "x86_64")]
    #[inline(always)]
    pub fn arg(&self, index: usize) -> Option<u64> {
        // x86-64 System V: rdi, rsi, rdx, rcx, r8, r9 (offsets in struct pt_regs).
        const OFFSETS: [usize; 6] = [112, 104, 96, 88, 72, 64];
        OFFSETS.get(index).map(|&offset| self.register(offset))
    }

    /// The return value (for kretprobes and uretprobes).
    #[cfg(bpf_target_arch = "x86_64")]
    #[inline(always)]
    pub fn ret(&self) -> u64 {
        self.register(80) // rax
    }

    /// Function argument `index` (0-based, x0-x7), or `None` beyond them.
    #[cfg(bpf_target_arch = "aarch64")]
    #[inline(always)]
    pub fn arg(&self, index: usize) -> Option<u64> {
        if index < 8 {
            Some(self.register(index * 8))
        } else {
            None
        }
    }

    /// The return value (x0).
    #[cfg(bpf_target_arch = "aarch64")]
    #[inline(always)]
    pub fn ret(&self) -> u64 {
        self.register(0)
    }
}

/// Contexts that only hand the raw pointer on (to helpers); typed accessors come later.
macro_rules! raw_context {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        pub struct $name {
            ctx: *mut c_void,
        }

        impl $name {
            /// Wraps the kernel's context pointer.
            ///
            /// # Safety
            /// `ctx` must be the pointer the kernel passed to the program.
            #[inline(always)]
            pub unsafe fn new(ctx: *mut c_void) -> $name {
                $name { ctx }
            }

            /// The raw context pointer, for helpers and field reads.
            #[inline(always)]
            pub fn as_ptr(&self) -> *mut c_void {
                self.ctx
            }
        }
    )*};
}

raw_context! {
    /// The context of a perf_event program (`struct bpf_perf_event_data`).
    PerfEventContext;
    /// The context of cgroup sock programs (`struct bpf_sock`).
    SockContext;
    /// The context of cgroup sock_addr programs (`struct bpf_sock_addr`).
    SockAddrContext;
    /// The context of cgroup sockopt programs (`struct bpf_sockopt`).
    SockoptContext;
    /// The context of cgroup sysctl programs (`struct bpf_sysctl`).
    SysctlContext;
    /// The context of cgroup device programs (`struct bpf_cgroup_dev_ctx`).
    DeviceContext;
    /// The context of sock_ops programs (`struct bpf_sock_ops`).
    SockOpsContext;
    /// The context of sk_msg programs (`struct sk_msg_md`).
    SkMsgContext;
    /// The context of sk_lookup programs (`struct bpf_sk_lookup`).
    SkLookupContext;
    /// The context of flow dissector programs (`struct __sk_buff` with flow keys).
    FlowDissectorContext;
    /// The context of iterator programs (`struct bpf_iter__<target>`).
    IterContext;
}
