"""hocvuso: the engine, channels and wiring of Trợ lý Bình dân học vụ số."""
