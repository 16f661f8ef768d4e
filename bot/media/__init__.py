"""Generated images and the files the bot serves itself (QR, charts, images behind unguessable URLs)."""
