"""Test pictures: a QR code "photographed" on a noisy table, a picture with no code, a PNG that only claims a size."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image, ImageChops, ImageDraw, ImageFilter


def background(size: tuple[int, int] = (1280, 960), *, seed: int = 0) -> Image.Image:
    """A grainy, unevenly lit surface with a few blotches: something like a wooden table under a lamp."""
    rng = random.Random(seed)
    width, height = size
    light = Image.linear_gradient("L").resize(size).rotate(rng.uniform(0, 360))
    grain = Image.effect_noise(size, 40).filter(ImageFilter.GaussianBlur(2))
    surface = Image.merge("RGB", (
        ImageChops.add(light, grain, 2.0, 60),
        ImageChops.add(light, grain, 2.2, 40),
        ImageChops.add(light, grain, 2.6, 20),
    ))
    draw = ImageDraw.Draw(surface)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(20, 120)
        shade = tuple(rng.randrange(60, 200) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=shade)
    return surface.filter(ImageFilter.GaussianBlur(3))


def photo_of(qr_png: bytes, *, angle: float = 11.0, scale: float = 0.9, size: tuple[int, int] = (1280, 960),
             noise: float = 22.0, blur: float = 1.2, seed: int = 0, quality: int = 80) -> bytes:
    """A JPEG of the QR code on paper, turned by `angle` degrees, scaled, pasted onto `background`, then with
    Gaussian noise and blur as a phone camera adds them."""
    rng = random.Random(seed)
    code = Image.open(io.BytesIO(qr_png)).convert("RGB")
    code = code.resize((int(code.width * scale), int(code.height * scale)), Image.Resampling.BILINEAR)
    paper = Image.new("RGB", (code.width + 40, code.height + 40), (238, 236, 228))
    paper.paste(code, (20, 20))
    mask = Image.new("L", paper.size, 255).rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    paper = paper.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    scene = background(size, seed=seed)
    x = rng.randrange(0, max(1, size[0] - paper.width))
    y = rng.randrange(0, max(1, size[1] - paper.height))
    scene.paste(paper, (x, y), mask)
    return _camera(scene, noise=noise, blur=blur, quality=quality)


def no_code_photo(*, seed: int = 3) -> bytes:
    """The same kind of scene with a page of lines on it, but no QR code."""
    scene = background(seed=seed)
    draw = ImageDraw.Draw(scene)
    draw.rectangle((300, 200, 900, 760), fill=(238, 236, 228))
    for row in range(12):
        draw.line((340, 240 + row * 40, 860 - (row % 3) * 90, 240 + row * 40), fill=(40, 40, 40), width=6)
    return _camera(scene.rotate(9, resample=Image.Resampling.BICUBIC), noise=22.0, blur=1.2, quality=80)


def _camera(scene: Image.Image, *, noise: float, blur: float, quality: int) -> bytes:
    grain = Image.effect_noise(scene.size, noise)
    noisy = Image.merge("RGB", [ImageChops.add(band, grain, 1.0, -128) for band in scene.split()])
    out = io.BytesIO()
    noisy.filter(ImageFilter.GaussianBlur(blur)).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` × `height` pixels: a decompression bomb's calling card."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    pixels = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def png_bytes(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()
