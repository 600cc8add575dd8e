#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpora in tests/fuzz/corpus/: well-formed programs for
# each harness's input language (see fuzz-messages.c and fuzz-ring.c), so
# the fuzzer starts from full sessions and working rings instead of
# having to discover the protocol byte by byte. Run it from anywhere
# after changing an input language, then commit the files.
import os
import struct

TOP = os.path.dirname(os.path.abspath(__file__))


def u8(v):
    return struct.pack('<B', v)


def u16(v):
    return struct.pack('<H', v & 0xffff)


def u32(v):
    return struct.pack('<I', v & 0xffffffff)


def u64(v):
    return struct.pack('<Q', v & 0xffffffffffffffff)


# ---- messages harness --------------------------------------------------

OP_MSG, OP_PUMP, OP_GUEST, OP_KICK, OP_SWITCH, OP_RAW = 0, 3, 4, 5, 6, 7
OP_COMPLETE, OP_DETACH, OP_HANGUP = 8, 9, 10


def fd_kind(kind, arg=0):
    """Smallest byte whose kind (b % 6) and argument match."""
    for b in range(256):
        if b % 6 != kind:
            continue
        if kind == 0 and (b >> 3) % 8 != arg:
            continue
        if kind == 5 and (b & 8 != 0) != (arg >= 100) or \
                kind == 5 and (b >> 4) % 16 != arg % 100:
            continue
        return b
    raise ValueError((kind, arg))


MEMFD_32K = fd_kind(0, 7)
MEMFD_8K = fd_kind(0, 1)
EVENTFD = fd_kind(1)
PIPE = fd_kind(2)
SOCKET = fd_kind(3)
DEVNULL = fd_kind(4)


def msg(request, payload=b'', fds=(), need_reply=False, flags=None,
        size=None, split=None):
    out = OP_MSG.to_bytes(1, 'little')
    out += u8(request if request < 0xf0 else 0xff)
    out += u8(0x80 if flags is not None else (1 if need_reply else 0))
    out += u16(len(payload))
    how = (1 if size is not None else 0)
    if split is not None:
        how |= 2 | (split << 2)
    out += u8(how)
    if request >= 0xf0:
        out += u32(request)
    if flags is not None:
        out += u32(flags)
    if size is not None:
        out += u32(size)
    out += payload
    out += u8(len(fds))
    for k in fds:
        out += u8(k)
    return out


def pump(rounds=8):
    return u8(OP_PUMP + 12 * (rounds - 1))


def guest_write(memfd, offset, data):
    return u8(OP_GUEST) + u8(memfd) + u16(offset) + u8(len(data) - 1) + data


F_VERSION_1 = 1 << 32
F_PROTOCOL = 1 << 30
F_INDIRECT = 1 << 28
F_EVENT_IDX = 1 << 29
F_PACKED = 1 << 34
F_IN_ORDER = 1 << 35
PF_ALL = sum(1 << b for b in (0, 3, 5, 9, 13, 14, 15, 16, 18))
UVA = 0x7f0000000000


def vring_state(index, num):
    return u32(index) + u32(num)


def vring_addr(index, desc, avail, used):
    return u32(index) + u32(0) + u64(desc) + u64(used) + u64(avail) + u64(0)


def region(gpa, size, uva, offset):
    return u64(gpa) + u64(size) + u64(uva) + u64(offset)


def session(features, packed=False, queue=0):
    """Negotiation, one 32 KiB region (memfd 0), queue set up and started
    with call = eventfd 0 and kick = eventfd 1."""
    s = u8(0)  # no config_read callback
    s += msg(1)
    s += msg(2, u64(features))
    s += msg(15)
    s += msg(16, u64(PF_ALL))
    s += msg(3)
    s += msg(5, u32(1) + u32(0) + region(0, 0x8000, UVA, 0),
             fds=[MEMFD_32K], need_reply=True)
    s += msg(8, vring_state(queue, 16))
    s += msg(9, vring_addr(queue, UVA, UVA + 0x1000, UVA + 0x2000))
    s += msg(10, vring_state(queue, 0x8000 if packed else 0))
    s += msg(13, u64(queue), fds=[EVENTFD])
    s += msg(12, u64(queue), fds=[EVENTFD])
    s += msg(18, vring_state(queue, 1), need_reply=True)
    return s


def split_request():
    # desc 0 -> desc 1: 16 readable bytes, then 64 writable bytes.
    d = u64(0x4000) + u32(16) + u16(1) + u16(1)
    d += u64(0x5000) + u32(64) + u16(2) + u16(0)
    avail = u16(0) + u16(1) + u16(0)
    return guest_write(0, 0, d) + guest_write(0, 0x1000, avail)


def packed_request():
    d = u64(0x4000) + u32(64) + u16(0) + u16(0x82)
    return guest_write(0, 0, d)


def finish_session(queue=0):
    s = msg(11, vring_state(queue, 0))
    s += msg(24, u32(0) + u32(8) + u32(0) + bytes(8))
    s += msg(39, u64(0x0f), need_reply=True)
    s += msg(40)
    s += pump()
    return s


def messages_seeds():
    seeds = {}
    base = F_VERSION_1 | F_PROTOCOL | F_INDIRECT | F_EVENT_IDX
    seeds['session-split'] = (session(base) + split_request() +
                              u8(OP_KICK) + u8(1) + pump() +
                              finish_session())
    seeds['session-packed'] = (session(base | F_PACKED, packed=True) +
                               packed_request() + u8(OP_KICK) + u8(1) +
                               pump() + finish_session())
    seeds['session-in-order'] = (session(base | F_IN_ORDER, queue=1) +
                                 u8(OP_KICK) + u8(1) + pump() +
                                 finish_session(queue=1))
    # Memory slots, in-band kicks, a region removed under a ring.
    s = session(base)
    s += msg(36)
    s += msg(37, u64(0) + region(0x100000, 0x2000, UVA + 0x100000, 0),
             fds=[MEMFD_8K], need_reply=True)
    s += split_request()
    s += msg(35, vring_state(0, 0))
    s += pump()
    s += msg(38, u64(0) + region(0x100000, 0x2000, UVA + 0x100000, 0),
             need_reply=True)
    s += msg(38, u64(0) + region(0, 0x8000, UVA, 0), need_reply=True)
    s += finish_session()
    seeds['mem-slots'] = s
    # Workers: a detached queue, quiesce answering -EBUSY, requests held
    # across GET_VRING_BASE.
    s = session(base)
    s += u8(OP_SWITCH) + u8(2 | 1)
    s += u8(OP_DETACH) + u8(4)
    s += split_request() + u8(OP_KICK) + u8(1)
    s += u8(OP_DETACH) + u8(2)
    s += msg(9, vring_addr(0, UVA, UVA + 0x1000, UVA + 0x2000))
    s += pump()
    s += u8(OP_SWITCH) + u8(0)
    s += pump()
    s += msg(11, vring_state(0, 0))
    s += pump()
    s += u8(OP_COMPLETE)
    s += pump()
    seeds['workers'] = s
    # Back-end channel and shared objects, reset, status.
    s = session(base)
    s += msg(21, fds=[SOCKET], need_reply=True)
    s += msg(41, bytes(range(16)))
    s += u8(OP_SWITCH) + u8(4 | 8)
    s += msg(34)
    s += msg(25, u32(0) + u32(4) + u32(0) + b'abcd', need_reply=True)
    s += msg(17)
    s += finish_session()
    seeds['backend'] = s
    # Hostile: oversized, too many fds, wrong version, reply flag, fd
    # where none belongs, split and truncated messages, unknown request.
    s = u8(1)
    s += msg(1, fds=[EVENTFD] * 18)
    s += msg(1, flags=0x2)
    s += msg(1, flags=0x5)
    s += msg(3, fds=[PIPE])
    s += msg(5, u32(2) + u32(0) + region(0, 0x1000, UVA, 0) +
             region(0x1000, 0x1000, UVA + 0x1000, 0), fds=[MEMFD_8K])
    s += msg(5, u32(2) + u32(0) + region(0, 0x2000, UVA, 0) +
             region(0x1000, 0x1000, UVA + 0x1000, 0),
             fds=[MEMFD_8K, MEMFD_8K], need_reply=True)
    s += msg(2, u64(F_VERSION_1), split=5)
    s += msg(0x1000, b'xyz', fds=[DEVNULL], need_reply=True)
    s += msg(33, b'', fds=[SOCKET])
    s += msg(8, vring_state(7, 16), need_reply=True)
    s += msg(24, u32(0) + u32(300) + u32(0))
    s += msg(1, bytes(100), size=0x10000)
    s += u8(OP_RAW) + u8(5) + b'\x01\x00\x00\x00\x01\x00'
    s += u8(OP_HANGUP)
    seeds['hostile'] = s
    return seeds


# ---- ring harnesses ----------------------------------------------------

R_DESC, R_TABLE, R_PUBLISH, R_RAW, R_POP, R_PUSH, R_NOTIFY = 0, 2, 3, 4, 5, 6, 7
A_DATA, A_TABLE0 = 0, 6


def addr(sel, off=0):
    return u8(sel) + u16(off)


def length(n):
    return u8(2) + u16(n)


def desc(i, sel, off, n, flags, link):
    return u8(R_DESC) + u16(i) + addr(sel, off) + length(n) + u16(flags) + \
        u16(link)


def table(t, e, sel, off, n, flags, link):
    return u8(R_TABLE) + u8(t) + u16(e) + addr(sel, off) + length(n) + \
        u16(flags) + u16(link)


def pop(n=1):
    return u8(R_POP) + u8(n - 1)


def push(complete=True, written=64):
    return u8(R_PUSH) + u8(1 if complete else 0) + u8(0) + u16(written)


def ring_seeds(packed):
    seeds = {}
    if packed:
        def head(cfg):
            return u8(cfg) + u8(15) + u8(0)

        def publish(n):
            return u8(R_PUBLISH) + u16(n - 1)
    else:
        def head(cfg):
            return u8(cfg) + u8(4) + u16(0)

        def publish(h):
            return u8(R_PUBLISH) + u16(h)
    # A chain of two: readable then writable.
    s = head(0)
    s += desc(0, A_DATA, 0, 16, 1, 1 if not packed else 0)
    s += desc(1, A_DATA, 0x1000, 64, 2, 0 if not packed else 0)
    s += publish(0 if not packed else 2)
    s += pop() + push() + u8(R_NOTIFY) + u8(1)
    seeds['chain'] = s
    # Indirect table of three, with event index.
    s = head(1 | 2)
    s += table(0, 0, A_DATA, 0, 32, 1, 1)
    s += table(0, 1, A_DATA, 0x100, 32, 1, 2)
    s += table(0, 2, A_DATA, 0x1000, 128, 2, 0)
    s += desc(0, A_TABLE0, 0, 48, 4, 0)
    s += publish(0 if not packed else 1)
    s += pop() + push(written=100) + u8(R_NOTIFY) + u8(0)
    seeds['indirect'] = s
    # In order, several requests completed out of order.
    s = head(4 | 8)
    for i in range(4):
        s += desc(i, A_DATA, 0x200 * i, 0x100, 2, i)
        s += publish(i if not packed else 1)
    s += pop(4) + push() + push(False) + push() + push()
    s += u8(R_NOTIFY) + u8(1)
    seeds['in-order'] = s
    # A loop and a straddling buffer.
    s = head(1)
    s += desc(0, 4, 0x3ff0, 0x20, 1, 1)
    s += desc(1, A_DATA, 0, 16, 1, 0)
    s += publish(0 if not packed else 2)
    s += pop()
    seeds['hostile'] = s
    return seeds


# ---- vhostdev-blk harness (see fuzz-blk.c) -----------------------------

B_IN, B_OUT, B_FLUSH, B_GET_ID, B_DISCARD, B_WZ = range(6)
# Device options (the first byte).
B_RO, B_4K, B_DISCARD_ON, B_WZ_ON, B_AT_ONCE, B_WRITEBACK, B_EVENT_IDX, \
    B_NULL = (1 << i for i in range(8))


def b_sector(n):
    return u8(0) + u8(n)


def b_sectors(n):
    """A data length of n whole sectors (n <= 32)."""
    return u8(n << 2)


def b_one_piece(total):
    return u8(0) + (u8(0) if total else b'')


def b_two_pieces(total, first):
    return u8(1) + u16(first) + u8(0) + u8(0)


def b_request(kind, sector, body=b'', out=None, inn=None, shape=0x10,
              first=0):
    """kind and shape as describe() reads them, then the cuts and the
    descriptor slot."""
    return (u8(kind) + u8(shape) + u8(0) + b_sector(sector) + body +
            (out if out is not None else u8(0) + u8(0)) +
            (inn if inn is not None else u8(0) + u8(0)) + u8(first))


def b_segments(segs, tail=False):
    s = u8(len(segs) * 2 + 1)  # odd: up to 35 segments
    for sector, num, flags in segs:
        s += u8(flags) + b_sector(sector) + u8(((num - 1) << 3) | 1)
    return s + (u8(0) + u8(3) if tail else u8(1))


def blk_seeds():
    seeds = {}
    seed = u32(0x1234567)
    for name, cfg in (('at-once', B_AT_ONCE | B_DISCARD_ON | B_WZ_ON),
                      ('uring', B_DISCARD_ON | B_WZ_ON | B_WRITEBACK |
                       B_EVENT_IDX)):
        s = u8(cfg) + seed
        s += b_request(B_OUT, 8, b_sectors(8) + u32(7), first=3)
        s += b_request(B_IN, 8, b_sectors(8),
                       inn=b_two_pieces(8 * 512 + 1, 4096))
        s += b_request(B_FLUSH, 0)
        s += b_request(B_GET_ID, 0, shape=0x11)
        s += b_request(B_DISCARD, 0, b_segments([(8, 8, 0), (32, 4, 0)]))
        s += b_request(B_WZ, 0, b_segments([(16, 8, 1)]))
        s += b_request(B_IN, 0, b_sectors(32))
        seeds[name] = s
    s = u8(B_RO | B_4K | B_DISCARD_ON) + seed
    s += b_request(B_OUT, 8, b_sectors(8) + u32(7))
    s += b_request(B_IN, 120, b_sectors(8))
    s += b_request(B_DISCARD, 0, b_segments([(8, 8, 0)]))
    seeds['read-only-4k'] = s
    s = u8(B_NULL | B_DISCARD_ON) + seed
    s += b_request(B_OUT, 0, b_sectors(4) + u32(9))
    s += b_request(B_IN, 0, b_sectors(4))
    s += b_request(B_DISCARD, 0, b_segments([(0, 8, 0)]))
    seeds['null'] = s
    # Past the end, a short header, no status byte, an unknown type,
    # segments with a ragged tail.
    s = u8(B_AT_ONCE | B_WZ_ON) + seed
    s += b_request(B_IN, 127, b_sectors(2))
    s += b_request(B_OUT, 0, b_sectors(1) + u32(1) + u8(5), shape=0x11)
    s += b_request(B_IN, 0, b_sectors(1), shape=0x02)
    s += b_request(B_WZ, 0, b_segments([(0, 8, 0)], tail=True))
    seeds['hostile'] = s
    return seeds


# ---- vhostdev-fs harness (see fuzz-fs.c) -------------------------------

(F_INIT, F_LOOKUP, F_FORGET, F_BATCH_FORGET, F_GETATTR, F_SETATTR,
 F_READLINK, F_SYMLINK, F_MKNOD, F_MKDIR, F_UNLINK, F_RMDIR, F_RENAME,
 F_RENAME2, F_LINK, F_OPEN, F_OPENDIR, F_CREATE, F_READ, F_WRITE,
 F_STATFS, F_RELEASE, F_RELEASEDIR, F_FSYNC, F_FSYNCDIR, F_FLUSH,
 F_READDIR, F_READDIRPLUS, F_ACCESS, F_SETXATTR, F_GETXATTR,
 F_LISTXATTR, F_REMOVEXATTR, F_FALLOCATE, F_LSEEK, F_COPY_FILE_RANGE,
 F_SYNCFS, F_INTERRUPT, F_DESTROY) = range(39)
# Names, as add_name() picks them.
N_A, N_B, N_DIR, N_LINK, N_DOT, N_DOTDOT, N_EMPTY, N_SLASH, N_AB, \
    N_UP_OUTSIDE, N_OUTSIDE, N_PARENT, N_XATTR = range(13)


def f_known(i):
    """A patched field: a live id (the i-th one learnt)."""
    return u8(0) + u8(i)


def f_request(op, fixed=b'', patches=b'', names=(), data=b'', node=0,
              head=0):
    """One request: the descriptor slot, op and shape, fixed part,
    patches, names, data, the header's node id (index of a live one),
    and the default room for the reply."""
    return (u8(head) + u8(op) + u8(0) + fixed + patches +
            b''.join(u8(n) for n in names) + data + u8(node) + u8(4))


def fs_seeds():
    init = f_request(F_INIT, u32(7) + u32(38) + u32(0x20000) +
                     u32(0x3fffffff) + u32(0) + bytes(44))
    seeds = {}
    s = u8(2) + init
    s += f_request(F_MKDIR, u32(0o755) + u32(0o022), names=[N_DIR])
    s += f_request(F_CREATE, u32(0o102) + u32(0o644) + u32(0o022) + u32(0),
                   names=[N_A])
    # WRITE 64 bytes at 0 through the handle CREATE gave (fhs[0]).
    s += f_request(F_WRITE, bytes(8) + u64(0) + u32(64) + u32(0) +
                   u64(0) + u32(0) + u32(0), f_known(0),
                   data=u16(64) + bytes(range(64)))
    s += f_request(F_READ, bytes(8) + u64(0) + u32(0) + bytes(20),
                   f_known(0) + u8(3))
    s += f_request(F_GETATTR, bytes(16), f_known(0), node=2)
    s += f_request(F_LOOKUP, names=[N_A])
    s += f_request(F_OPENDIR, u32(0) + u32(0))
    s += f_request(F_READDIRPLUS, bytes(40), f_known(1) + u8(3))
    s += f_request(F_SETXATTR, u32(8) + u32(0) + u32(0) + u32(0),
                   names=[N_XATTR], data=u16(8) + bytes(64), node=2)
    s += f_request(F_SYMLINK, names=[N_LINK, N_UP_OUTSIDE])
    s += f_request(F_RENAME, bytes(8), f_known(0), names=[N_A, N_B])
    s += f_request(F_RELEASE, bytes(24), f_known(0))
    s += f_request(F_RELEASEDIR, bytes(24), f_known(1))
    s += f_request(F_FORGET, u64(1), node=2)
    s += f_request(F_STATFS)
    s += f_request(F_DESTROY)
    seeds['session'] = s
    # Escapes: names that climb, absolute names, a symlink to the
    # outside file then used as a directory and opened.
    s = u8(0) + init
    s += f_request(F_LOOKUP, names=[N_DOTDOT])
    s += f_request(F_LOOKUP, names=[N_UP_OUTSIDE])
    s += f_request(F_SYMLINK, names=[N_LINK, N_OUTSIDE])
    s += f_request(F_LOOKUP, names=[N_LINK])
    s += f_request(F_OPEN, u32(2) + u32(0), node=1)
    s += f_request(F_CREATE, u32(0o102) + u32(0o644) + u32(0) + u32(0),
                   names=[N_PARENT])
    s += f_request(F_MKNOD, u32(0o10644) + u32(0) + u32(0) + u32(0),
                   names=[N_SLASH])
    s += f_request(F_RENAME2, bytes(16), f_known(0),
                   names=[N_LINK, N_DOTDOT])
    s += f_request(F_LINK, bytes(8), f_known(1), names=[N_B])
    s += f_request(F_UNLINK, names=[N_LINK])
    seeds['escape'] = s
    return seeds


def write(harness, seeds):
    d = os.path.join(TOP, 'corpus', harness)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)


write('messages', messages_seeds())
write('split', ring_seeds(False))
write('packed', ring_seeds(True))
write('blk', blk_seeds())
write('fs', fs_seeds())
