//! The port boundary, shaped like AF_XDP: frames live in a shared buffer (the UMEM); a port
//! hands out received frame descriptors in batches, takes descriptors to transmit, and
//! reports transmit completions so the buffers can be reused. The in-memory backend
//! ([`MemPort`]) drives tests and benches; `xsk` is the AF_XDP backend.
//!
//! CONTRACT: filled in by the data-plane work; `xsk::XskPort` implements the same shape.
