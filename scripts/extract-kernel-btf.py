#!/usr/bin/env python3
"""Extract the BTF of Debian's 6.1 kernels (amd64 and arm64) into bpfkit-obj/tests/kernels/.

Run by hand, as root, on a Debian (bookworm) machine; the output is committed, so the tests never
need the network. What it does, per architecture:

  1. `apt-get download linux-image-6.1.0-<ABI>-<arch>:<arch>` (no install; for arm64 the foreign
     architecture is added with `dpkg --add-architecture arm64` first, then `apt-get update`);
  2. `dpkg-deb -x` into a temporary directory and take `boot/vmlinuz-*`;
  3. amd64: the vmlinuz is a bzImage whose protected-mode payload (found through the boot
     protocol's `payload_offset`/`payload_length`, or else by its compression magic) is an
     xz/gzip/zstd/lz4-compressed ELF vmlinux; its `.BTF` section is the kernel's BTF.
     arm64: the vmlinuz is a raw `Image` (gzip-compressed in some releases): the BTF blob sits in
     it verbatim, found by its header (magic 0xeB9F, version 1, 24-byte header) and cut to exactly
     header + type_len + str_len bytes;
  4. checks the blob: header fields, every type record walks to exactly the end of the type
     section, the string section begins and ends with a NUL;
  5. writes `<out>/debian-6.1.0-<ABI>-<arch>.btf.gz` with `gzip -9 -n` (no name, no time stamp, so
     the same input gives the same bytes).

Usage:  scripts/extract-kernel-btf.py [--abi N] [--out DIR] [--arch amd64 --arch arm64]
        (default ABI: the newest `linux-image-6.1.0-N-amd64` that `apt-cache search` lists)
It prints the exact package versions and the sizes; put them in the README of the output dir.
"""

import argparse
import gzip
import hashlib
import lzma
import os
import re
import struct
import subprocess
import sys
import tempfile

BTF_MAGIC = 0xEB9F
BTF_HEADER_LEN = 24

# Bytes each BTF kind carries after its 12-byte common record: (fixed, per vlen entry).
KIND_EXTRA = {
    1: (4, 0),  # INT
    2: (0, 0),  # PTR
    3: (12, 0),  # ARRAY
    4: (0, 12),  # STRUCT
    5: (0, 12),  # UNION
    6: (0, 8),  # ENUM
    7: (0, 0),  # FWD
    8: (0, 0),  # TYPEDEF
    9: (0, 0),  # VOLATILE
    10: (0, 0),  # CONST
    11: (0, 0),  # RESTRICT
    12: (0, 0),  # FUNC
    13: (0, 8),  # FUNC_PROTO
    14: (4, 0),  # VAR
    15: (0, 12),  # DATASEC
    16: (0, 0),  # FLOAT
    17: (4, 0),  # DECL_TAG
    18: (0, 0),  # TYPE_TAG
    19: (0, 12),  # ENUM64
}


def run(*args, **kwargs):
    print("+", " ".join(args), file=sys.stderr)
    return subprocess.run(args, check=True, **kwargs)


def newest_abi():
    """The highest N of `linux-image-6.1.0-N-amd64` known to apt."""
    listing = run("apt-cache", "search", "--names-only", r"^linux-image-6\.1\.0-[0-9]+-amd64$",
                  capture_output=True, text=True).stdout
    abis = [int(m.group(1)) for m in re.finditer(r"^linux-image-6\.1\.0-(\d+)-amd64 ", listing, re.M)]
    if not abis:
        sys.exit("no linux-image-6.1.0-N-amd64 package known to apt (apt-get update?)")
    return max(abis)


def ensure_architecture(arch):
    native = run("dpkg", "--print-architecture", capture_output=True, text=True).stdout.strip()
    if arch == native:
        return
    foreign = run("dpkg", "--print-foreign-architectures", capture_output=True, text=True).stdout.split()
    if arch not in foreign:
        run("dpkg", "--add-architecture", arch)
        run("apt-get", "update")


def download(package, arch, workdir):
    """Downloads the .deb into workdir; returns (path, version)."""
    run("apt-get", "download", f"{package}:{arch}", cwd=workdir)
    debs = [f for f in os.listdir(workdir) if f.startswith(package + "_") and f.endswith(f"_{arch}.deb")]
    if len(debs) != 1:
        sys.exit(f"expected one {package} .deb in {workdir}, found {debs}")
    path = os.path.join(workdir, debs[0])
    version = run("dpkg-deb", "-f", path, "Version", capture_output=True, text=True).stdout.strip()
    return path, version


def check_btf(blob):
    """Raises ValueError unless blob is one complete little-endian BTF; returns the type count."""
    if len(blob) < BTF_HEADER_LEN:
        raise ValueError("shorter than a BTF header")
    magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
        "<HBBIIIII", blob, 0)
    if magic != BTF_MAGIC or version != 1 or hdr_len != BTF_HEADER_LEN:
        raise ValueError("not a little-endian BTF v1 header")
    if type_off != 0 or str_off != type_len or hdr_len + str_off + str_len != len(blob):
        raise ValueError("sections are not laid out back to back")
    strings = blob[hdr_len + str_off:]
    if not strings or strings[0] != 0 or strings[-1] != 0:
        raise ValueError("string section does not begin and end with NUL")
    position, end, count = hdr_len, hdr_len + type_len, 0
    while position < end:
        if position + 12 > end:
            raise ValueError(f"type record cut at {position}")
        info = struct.unpack_from("<I", blob, position + 4)[0]
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        if kind not in KIND_EXTRA:
            raise ValueError(f"unknown kind {kind} at {position}")
        fixed, per_entry = KIND_EXTRA[kind]
        position += 12 + fixed + per_entry * vlen
        count += 1
    if position != end:
        raise ValueError("type records overrun the type section")
    return count


def btf_from_elf(elf):
    """The `.BTF` section of a little-endian ELF64 file."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise ValueError("not a little-endian ELF64 file")
    shoff = struct.unpack_from("<Q", elf, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    names_offset = sections[shstrndx][4]
    for name, _type, _flags, _addr, offset, size, *_ in sections:
        end = elf.index(b"\0", names_offset + name)
        if elf[names_offset + name:end] == b".BTF":
            return bytes(elf[offset:offset + size])
    raise ValueError("ELF has no .BTF section")


def decompress_at(data, start):
    """Decompresses the stream beginning at data[start:] by its magic; trailing bytes are ignored."""
    head = data[start:start + 6]
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:])
    if head.startswith(b"\x1f\x8b\x08"):
        return gzip_member(data[start:])
    for magic, tool in ((b"\x28\xb5\x2f\xfd", "zstd"), (b"\x02\x21\x4c\x18", "lz4")):
        if head.startswith(magic):
            # The tools stop at the end of the frame; trailing bytes only cost a warning.
            result = subprocess.run([tool, "-dc"], input=data[start:], capture_output=True)
            if result.stdout:
                return result.stdout
            raise ValueError(f"{tool} could not decompress at {start}: {result.stderr!r}")
    raise ValueError(f"no known compression magic at {start}")


def gzip_member(data):
    import zlib
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    return decompressor.decompress(data)


def vmlinux_from_bzimage(image):
    """The ELF vmlinux inside an x86 bzImage."""
    if image[0x202:0x206] != b"HdrS":
        raise ValueError("not a bzImage (no HdrS boot header)")
    setup_sects = image[0x1F1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", image, 0x248)
    protected_mode = (setup_sects + 1) * 512
    start = protected_mode + payload_offset
    candidates = [start] if payload_length else []
    # Fallback for unusual images: scan for a compression magic.
    for magic in (b"\xfd7zXZ\x00", b"\x1f\x8b\x08", b"\x28\xb5\x2f\xfd"):
        candidates += [m.start() for m in re.finditer(re.escape(magic), image)]
    for candidate in candidates:
        try:
            payload = decompress_at(image, candidate)
        except (ValueError, lzma.LZMAError, OSError, EOFError):
            continue
        if payload[:4] == b"\x7fELF":
            return payload
    raise ValueError("no compressed ELF payload found in the bzImage")


def btf_from_raw_image(image):
    """The BTF blob embedded verbatim in a raw kernel Image (arm64)."""
    header_start = struct.pack("<HBBI", BTF_MAGIC, 1, 0, BTF_HEADER_LEN)
    found = []
    for match in re.finditer(re.escape(header_start), image):
        offset = match.start()
        if offset + BTF_HEADER_LEN > len(image):
            continue
        _t_off, type_len, _s_off, str_len = struct.unpack_from("<IIII", image, offset + 8)
        blob = bytes(image[offset:offset + BTF_HEADER_LEN + type_len + str_len])
        try:
            check_btf(blob)
        except ValueError:
            continue
        found.append(blob)
    if len(found) != 1:
        raise ValueError(f"expected one BTF blob in the Image, found {len(found)}")
    return found[0]


def extract(arch, abi, workdir):
    package = f"linux-image-6.1.0-{abi}-{arch}"
    deb, version = download(package, arch, workdir)
    sha256 = hashlib.sha256(open(deb, "rb").read()).hexdigest()
    tree = os.path.join(workdir, arch)
    run("dpkg-deb", "-x", deb, tree)
    boot = os.path.join(tree, "boot")
    kernels = [f for f in os.listdir(boot) if f.startswith("vmlinuz-")]
    if len(kernels) != 1:
        sys.exit(f"expected one vmlinuz in {boot}, found {kernels}")
    image = open(os.path.join(boot, kernels[0]), "rb").read()
    if image[:3] == b"\x1f\x8b\x08":
        image = gzip_member(image)
    if image[0x202:0x206] == b"HdrS":
        blob = btf_from_elf(vmlinux_from_bzimage(image))
    elif image[:4] == b"\x7fELF":
        blob = btf_from_elf(image)
    else:
        blob = btf_from_raw_image(image)
    types = check_btf(blob)
    return package, version, sha256, blob, types


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--abi", type=int, help="Debian ABI number N of linux-image-6.1.0-N-<arch>")
    parser.add_argument("--arch", action="append", help="amd64, arm64 (default: both)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "..", "bpfkit-obj", "tests", "kernels"))
    args = parser.parse_args()
    arches = args.arch or ["amd64", "arm64"]
    for arch in arches:
        ensure_architecture(arch)
    abi = args.abi or newest_abi()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bpfkit-kernel-btf-") as workdir:
        for arch in arches:
            package, version, sha256, blob, types = extract(arch, abi, workdir)
            target = os.path.join(args.out, f"debian-6.1.0-{abi}-{arch}.btf.gz")
            with open(target, "wb") as out:
                subprocess.run(["gzip", "-9", "-n", "-c"], input=blob, stdout=out, check=True)
            print(f"{os.path.basename(target)}: {package}:{arch} {version} (deb sha256 {sha256}); "
                  f"BTF {len(blob)} bytes, {types} types, sha256 {hashlib.sha256(blob).hexdigest()}; "
                  f"compressed {os.path.getsize(target)} bytes")


if __name__ == "__main__":
    main()
