"""pecore: Perception Encoder (PE Core CLIP) inference from Python, without PyTorch.

NumPy in and out, float32.  The engine is the C library (include/pecore.h); it
runs with the GIL released, and threads may share one Model (its one context
sits behind a lock).  Image files are decoded by the same C code as the
``pecore`` CLI, so the numbers are the CLI's.

    model, _, preprocess = pecore.create_model_and_transforms("pe-core-b16-224.safetensors")
    tokenizer = pecore.get_tokenizer(model)
    image = model.encode_image(preprocess(Image.open("cat.jpg"))[None], normalize=True)
    text = model.encode_text(tokenizer(["a dog", "a cat"]), normalize=True)
    probs = pecore.softmax(model.logit_scale * image @ text.T)

Errors raise pecore.Error (one subclass per library status) with the
library's one-line message.  ``python3 -m pecore.corpus`` embeds an image
corpus on a Dask cluster.
"""
import os
import sys
import threading

import numpy as np

from . import _pecore
from ._pecore import (  # noqa: F401  (re-exported)
    ChecksumError,
    Error,
    FileError,
    FormatError,
    Gallery,
    InvalidArgumentError,
    LimitError,
    NotFoundError,
    OutOfMemoryError,
    Prototypes,
    ShapeError,
    UnsupportedError,
)

__version__ = _pecore.version()
__all__ = [
    "Model", "Tokenizer", "Transform", "Gallery", "Prototypes", "tokenize", "quantize",
    "create_model_and_transforms", "get_tokenizer", "softmax", "normalize", "kernel_isa",
    "Error", "InvalidArgumentError", "FileError", "FormatError", "UnsupportedError",
    "ShapeError", "OutOfMemoryError", "LimitError", "NotFoundError", "ChecksumError",
]

_CROPS = {None: -1, "squash": 0, "center": 1}          # None: the transform's
_TRANSFORMS = {None: -1, "pe": 0, "dinov2-eval": 1}    # None: the model's
_WEIGHT_TYPES = {"f16": 1, "bf16": 2, "q8": 3, "q4": 4}
DEFAULT_CONTEXT = 32  # PE's text context; the CLI's tokenize uses 77 unless told
# Images encode_image decodes and hands the engine at once when Model(batch=0):
# the engine's own default batch is 1..8 images (pe_ctx_options.max_batch),
# and it cuts a larger group into its batches itself.
DEFAULT_BATCH = 8


def kernel_isa():
    """The kernel set in use: "avx512", "avx2" or "scalar" (PECORE_ISA overrides)."""
    return _pecore.kernel_isa()


def normalize(x, axis=-1):
    """x / ||x|| along axis (zero rows stay zero)."""
    return _unit(np.asarray(x, dtype=np.float32), axis)


def _unit(x, axis=-1):
    n = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.where(n > 0, n, 1).astype(np.float32)


def softmax(x, axis=-1):
    """Softmax along axis, as torch's ``.softmax(dim=-1)``."""
    x = np.asarray(x, dtype=np.float32)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------- inputs

def _pil_pixels(im):
    """A PIL image as (uint8 array, nearest), matching what the CLI's decoder
    gives for the same file: palette and 1-bit images are resized with NEAREST,
    as PIL resizes modes "P" and "1".  Other modes (CMYK, 16-bit gray, ...)
    go through PIL's convert("RGB"), which can differ from the CLI's decoder
    for those files (tools/image_io.h says how)."""
    mode = im.mode
    if mode in ("RGB", "RGBA", "L", "LA"):
        return np.asarray(im), 0
    if mode == "P":
        return np.asarray(im.convert("RGB")), 1
    if mode == "1":
        return np.asarray(im.convert("L")), 1
    return np.asarray(im.convert("RGB")), 0


def _is_pil(x):
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(x, pil.Image)


def _item(x):
    """One image as _pecore takes it: a path, or (uint8 array, nearest)."""
    if isinstance(x, (str, bytes, os.PathLike)):
        return x
    if _is_pil(x):
        x, nearest = _pil_pixels(x)
        return (np.ascontiguousarray(x), nearest)
    if isinstance(x, np.ndarray):
        if x.dtype != np.uint8:
            raise InvalidArgumentError(
                f"an image array must be uint8 HxWx{{1,3,4}} (got {x.dtype} {x.shape}); "
                "a float32 batch [N,3,H,W] goes in on its own, not in a list")
        return (np.ascontiguousarray(x), 0)
    raise TypeError(f"not an image: {type(x).__name__} (expected a path, a PIL image, "
                    "a uint8 HxWxC array or a float32 [N,3,H,W] array)")


def _items(x):
    if isinstance(x, (list, tuple)):
        return [_item(e) for e in x]
    if isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 4:
        return [(np.ascontiguousarray(e), 0) for e in x]
    return [_item(x)]


def _pp(transform, size, crop):
    """(transform, height, width, crop) for _pecore: size None (0) is the
    transform's own, an int a square, else (height, width)."""
    if transform not in _TRANSFORMS:
        raise InvalidArgumentError(f"transform must be 'pe' or 'dinov2-eval', not {transform!r}")
    if crop not in _CROPS:
        raise InvalidArgumentError(f"crop must be 'squash' or 'center', not {crop!r}")
    h, w = (0, 0) if size is None else (size, size) if isinstance(size, int) else size
    return _TRANSFORMS[transform], int(h), int(w), _CROPS[crop]


def _output_kind(output):
    kind = _pecore.OUTPUTS.get(output)
    if kind is None:
        raise InvalidArgumentError(f"output must be one of {sorted(_pecore.OUTPUTS)}, "
                                   f"not {output!r}")
    return kind


# ---------------------------------------------------------------- tokenizer

class Tokenizer(_pecore.Tokenizer):
    """The CLIP BPE tokenizer: ``tok(texts)`` gives int64 [N, context_length],
    as the reference tokenizer (sot, ids, eot, zero padding; truncated with eot
    in the last slot).  ``Tokenizer(path)`` reads a vocabulary file
    (bpe_simple_vocab_16e6.txt.gz), ``Tokenizer(model)`` the copy a model file
    stores."""

    def __init__(self, source, context_length=DEFAULT_CONTEXT):
        super().__init__(source)
        self.context_length = context_length

    def __call__(self, texts, context_length=None):
        if isinstance(texts, str):
            texts = [texts]
        return self.tokenize(texts, context_length or self.context_length)


_tokenizers = {}
_tokenizers_lock = threading.Lock()


def _vocab_tokenizer(vocab):
    """A tokenizer for a vocabulary file, loaded once per process."""
    key = os.path.abspath(os.fspath(vocab))
    with _tokenizers_lock:
        if key not in _tokenizers:
            _tokenizers[key] = Tokenizer(key)
        return _tokenizers[key]


def tokenize(texts, context_length=DEFAULT_CONTEXT, vocab=None):
    """Token ids int64 [N, context_length] of texts (a str or a list of str).
    The vocabulary is vocab, else $PECORE_VOCAB."""
    vocab = vocab or os.environ.get("PECORE_VOCAB")
    if not vocab:
        raise NotFoundError("no tokenizer vocabulary: pass vocab= (bpe_simple_vocab_16e6.txt.gz) "
                            "or set PECORE_VOCAB")
    return _vocab_tokenizer(vocab)(texts, context_length)


# ---------------------------------------------------------------- model

class Model(_pecore.Model):
    """A loaded model (safetensors or PyTorch .pt) and one engine context.

    threads: worker threads of the context (0 = all cores).  vision_only: leave
    a CLIP file's text tower unloaded.  vocab: the tokenizer vocabulary for
    encode_text(str) (else $PECORE_VOCAB, else the copy stored in the file).
    sha256: expected SHA-256 of the file (ChecksumError when it differs).
    batch: images the engine runs as one batch (pe_ctx_options.max_batch,
    1..256; 0 = the model's default, 1..8 by its size): their linears as one
    matrix product, the results bit-identical to one image at a time.
    compute: "f32" (default) or "f16": the block linears in half precision
    (pe_ctx_options.compute; ARMv8.2 FP16 CPUs only, UnsupportedError
    elsewhere), embeddings within about 1e-5 of float32's cosine.
    Pickles by path and options: the receiving process loads the file again.
    """

    def __init__(self, path, threads=0, vision_only=False, vocab=None, sha256=None, batch=0,
                 compute="f32"):
        path = os.path.abspath(os.fspath(path))
        vocab = os.path.abspath(os.fspath(vocab)) if vocab else None
        self._args = (path, threads, vision_only, vocab, sha256, batch, compute)
        super().__init__(path, threads, vision_only, sha256, batch=batch, compute=compute)
        self._info = super()._info()
        self._tokenizer = None
        self._tokenizer_lock = threading.Lock()

    def __reduce__(self):
        return (Model, self._args)

    def __repr__(self):
        i = self._info
        return f"pecore.Model({self._args[0]!r}, arch={i['arch']!r}, dim={i['out_dim']})"

    @property
    def path(self):
        return self._args[0]

    @property
    def batch(self):
        """Images encode_image decodes and encodes together: batch=, else
        DEFAULT_BATCH (8; the engine then runs its own default batches)."""
        return self._args[5] or DEFAULT_BATCH

    @property
    def info(self):
        """What the model is (pe_model_info): arch, patch, width, layers,
        image_size, out_dim, text_context, logit_scale, fingerprint, ..."""
        return dict(self._info)

    @property
    def logit_scale(self):
        """The zero-shot temperature, ALREADY EXPONENTIATED: exp() of the
        file's logit_scale parameter, so logits = logit_scale * cosine
        (open_clip's ``model.logit_scale.exp()``; do not exp() it again).
        0 when the file has no text tower."""
        return self._info["logit_scale"]

    @property
    def tokenizer(self):
        """The tokenizer of encode_text(str): vocab=, else $PECORE_VOCAB,
        else the vocabulary stored in the model file; NotFoundError if none."""
        with self._tokenizer_lock:
            if self._tokenizer is None:
                vocab = self._args[3] or os.environ.get("PECORE_VOCAB")
                context = self._info["text_context"] or DEFAULT_CONTEXT
                try:
                    self._tokenizer = Tokenizer(vocab or self, context)
                except NotFoundError as e:
                    raise NotFoundError(f"no tokenizer vocabulary: pass vocab= or set PECORE_VOCAB "
                                        f"({e})") from None
            return self._tokenizer

    def tokenize(self, texts, context_length=None):
        """int64 [N, L] ids with this model's tokenizer (L: its text context)."""
        return self.tokenizer(texts, context_length)

    def encode_image(self, x, output="embedding", normalize=False, size=None, crop=None,
                     transform=None):
        """Encodes images; returns float32 [N, D] embeddings, [N, T, W] token
        grids with output="tokens" (class token, then registers, first), or
        [N, 5W] with output="linear4" (the DINOv2 family's linear-probe
        input).  normalize=True divides each row (each token) by its norm.

        x is a float32 array [N, 3, H, W] (or [3, H, W]) already normalised to
        the model's input range, or images given the model's reference
        preprocessing, as `pecore embed`: its eval transform (PE: squash to
        the native size; DINOv2: resize 256, center-crop 224), or
        transform="pe" | "dinov2-eval", at size= (an int or (h, w)) with
        crop= "squash" | "center".  Images are a path, a PIL image, a uint8
        HxW / HxWx{1,3,4} array (RGB order), a uint8 [N, H, W, C] batch, or
        a list of those.

        A batch runs self.batch images at a time, with the GIL released: a
        group's files are decoded, then encoded together (pe_encode_images),
        bit-identical to one image at a time.  An image that fails stops the
        call with an error naming it (its path, or "image I") whose .index
        is its position in x."""
        kind = _output_kind(output)
        if isinstance(x, np.ndarray) and x.dtype.kind == "f":
            if size is not None or crop is not None or transform is not None:
                raise InvalidArgumentError("size=, crop= and transform= apply to images; a float "
                                           "tensor is already preprocessed")
            out = self._encode_f32(x[None] if x.ndim == 3 else x, kind)
        else:
            out = self._encode_images(_items(x), kind, *_pp(transform, size, crop), self.batch)
        if output != "tokens":
            out = out.reshape(out.shape[0], out.shape[1] * out.shape[2])
        return _unit(out) if normalize else out

    def encode_text(self, text, normalize=False):
        """Text embeddings float32 [N, D]: text is a str, a list of str
        (tokenized with self.tokenizer) or token ids [N, L] (L <= the
        model's text context)."""
        if isinstance(text, str):
            text = [text]
        if isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text):
            ids = self.tokenize(text)
        else:
            ids = np.asarray(text)
            if ids.ndim == 1:
                ids = ids[None]
            if ids.dtype.kind not in "iu" or (ids.size and (ids.min() < 0 or ids.max() >= 2**31)):
                raise InvalidArgumentError("token ids must be non-negative integers")
        out = self._encode_text(np.ascontiguousarray(ids, dtype=np.int32))
        return _unit(out) if normalize else out


# ---------------------------------------------------------------- open_clip-style

class Transform:
    """A model's reference preprocessing as a callable (open_clip's
    ``preprocess``): image (path, PIL image, uint8 array) -> float32
    [3, H, W], exactly what encode_image(image, ...) feeds the model.
    transform "pe" (squash, bilinear, [-1, 1]) or "dinov2-eval"; size None
    is the transform's own (native for PE: give native=)."""

    def __init__(self, transform="pe", size=None, crop=None, native=224):
        self.args = _pp(transform, size, crop) + (native,)
        self.transform, self.size, self.crop = transform, size, crop

    def __call__(self, image):
        return _pecore.preprocess(_item(image), *self.args)

    def __repr__(self):
        return (f"pecore.Transform({self.transform!r}, size={self.size!r}, crop={self.crop!r}, "
                f"native={self.args[-1]})")


def create_model_and_transforms(path, threads=0, vocab=None, size=None, crop=None, **kw):
    """open_clip's entry point: (model, preprocess_train, preprocess_val).
    There is no training here: both transforms are the model's eval one."""
    model = Model(path, threads=threads, vocab=vocab, **kw)
    info = model.info
    preprocess = Transform(info["transform"], size, crop, native=info["image_size"])
    return model, preprocess, preprocess


def get_tokenizer(model, vocab=None):
    """open_clip's get_tokenizer: a callable texts -> int64 [N, L] at the
    model's text context.  model is a Model or a model path."""
    if not isinstance(model, Model):
        model = Model(model, vocab=vocab)
    if vocab:
        return Tokenizer(vocab, model.info["text_context"] or DEFAULT_CONTEXT)
    return model.tokenizer


# ---------------------------------------------------------------- quantize

def _weight_type(name):
    try:
        return _WEIGHT_TYPES[name]
    except KeyError:
        raise InvalidArgumentError(f"weight type must be one of {sorted(_WEIGHT_TYPES)}, "
                                   f"not {name!r}") from None


def quantize(src, dst, type="q8", rules=(), keep=None, vision_only=False, calibrate=None,
             plain=False):
    """Writes a copy of src with its linear weights as type (f16, bf16, q8,
    q4), as ``pecore quantize``: rules are "TYPE:PATTERNS" strings (the
    CLI's --as, the last match winning) or (type, patterns) pairs; keep:
    comma-separated patterns of tensors kept as they are; vision_only drops
    the text tower.

    calibrate: images (paths, PIL images or uint8 arrays, as encode_image
    takes them) run through the model first, as ``--calibrate DIR``: the
    quantizer chooses its outlier handling with their activations and
    returns its quality report as a dict shaped like ``--json`` (method,
    images, cos_mean, cos_min, linears, smoothed, gptq, float_columns,
    worst: [{name, before, after, action}]).  Without it, None.  An image
    that cannot be read raises an error naming it (path or ``image I``) with
    its position in ``.index``.  plain: per-channel rounding without outlier
    handling, for comparison."""
    parsed = []
    for r in rules:
        t, _, pats = r.partition(":") if isinstance(r, str) else (r[0], ":", r[1])
        if not pats:
            raise InvalidArgumentError(f"rule {r!r}: expected TYPE:PATTERNS")
        parsed.append((_weight_type(t), pats))
    if calibrate is not None:
        if isinstance(calibrate, (str, bytes, os.PathLike)) or _is_pil(calibrate):
            calibrate = [calibrate]
        calibrate = _items(calibrate)
    return _pecore.quantize(os.fspath(src), os.fspath(dst), _weight_type(type), parsed, keep,
                            bool(vision_only), calibrate, bool(plain))
