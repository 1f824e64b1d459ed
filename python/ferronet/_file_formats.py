"""What a file that is not a ferronet model file looks like, from its first bytes.

``fnet.load("model.pt")`` would otherwise get the engine's "truncated or not a safetensors file: its header claims
67324752 bytes", which does not say what the file is. A ferronet model file is a safetensors file: 8 bytes of
header length, then a JSON object. Anything else is recognised by its magic bytes (zip, pickle, HDF5, NumPy,
ONNX's protobuf, gzip, JSON text) before the bytes reach the engine; unknown content is left to the engine's
checks. Nothing here reads more than the bytes already in memory.
"""

from __future__ import annotations

import io
import zipfile

__all__ = ["check_model_bytes", "foreign_format"]

#: What ferronet reads, for the end of every message.
READS = "ferronet reads safetensors files written by Sequential.save"

_TORCH_HINT = "; to bring a PyTorch model over, load it with torch and use fnet.Sequential.from_torch(module)"

#: ONNX ModelProto field tags that may follow its first field (ir_version): producer_name, producer_version,
#: domain, model_version, doc_string, graph, opset_import, metadata_props.
_ONNX_NEXT_TAGS = frozenset({0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72})


def _zip_kind(data: bytes) -> tuple[str, str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return "a zip archive", ""
    if any(name.endswith("data.pkl") for name in names):
        return "a PyTorch checkpoint (zip/pickle, torch.save)", _TORCH_HINT
    if "config.json" in names and any(name.endswith(".weights.h5") for name in names):
        return "a Keras .keras archive", ""
    if names and all(name.endswith(".npy") for name in names):
        return "a NumPy .npz archive", ""
    return "a zip archive", ""


def _looks_like_onnx(data: bytes) -> bool:
    """A protobuf that starts as an ONNX ModelProto: field 1 (ir_version, a small varint), then a known field."""
    if len(data) < 3 or data[0] != 0x08:
        return False
    version, index = 0, 1
    while index < min(len(data), 6):
        byte = data[index]
        version |= (byte & 0x7F) << (7 * (index - 1))
        index += 1
        if not byte & 0x80:
            break
    return 1 <= version <= 100 and index < len(data) and data[index] in _ONNX_NEXT_TAGS


#: Bytes that tell a safetensors file: its 8-byte header size, then the header's opening brace.
SAFETENSORS_HEAD = 9


def is_safetensors(data: bytes) -> bool:
    """Whether ``data`` (at least the first ``SAFETENSORS_HEAD`` bytes of a file) starts like a safetensors file."""
    return len(data) >= SAFETENSORS_HEAD and data[8:9] == b"{"


def foreign_format(data: bytes) -> tuple[str, str] | None:
    """(what the bytes look like, advice) for a known non-ferronet format, or None (a safetensors file, or
    unknown content: the engine's reader judges those)."""
    if is_safetensors(data):
        return None
    head = data[:16]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(data)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        if b"ferronet.model" in data[:256]:
            return "a pickled ferronet model", "; load it with pickle.load (or joblib.load), which made it"
        return "a pickle (a PyTorch checkpoint from torch.save, or another pickled object)", _TORCH_HINT
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "an HDF5 file (a Keras .h5 model?)", ""
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy array", ""
    if head.startswith(b"\x1f\x8b"):
        return "a gzip-compressed file", "; decompress it first if it holds a model file"
    if _looks_like_onnx(data):
        return "an ONNX model", "; ferronet writes ONNX (Sequential.to_onnx) but does not read it back"
    if head.lstrip()[:1] in (b"{", b"["):
        return "a JSON text file", "; a model config loads with fnet.Sequential.from_config(json.load(file))"
    return None


def check_model_bytes(data: bytes, source: str) -> None:
    """Raise ``ValueError`` naming ``source`` when ``data`` is recognisably another format."""
    found = foreign_format(data)
    if found is not None:
        what, advice = found
        raise ValueError(f"{source} is not a ferronet model file: it looks like {what}; {READS}{advice}")
