//! AF_XDP port backend (xsk-rs).
