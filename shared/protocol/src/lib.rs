//! TRACEFLOW's contracts: what crosses the wire and what a policy may say, shared by the runner and control plane.
//!
//! In the data flow this crate sits on both sides of the wire: the runner uses [`batch`] to validate what SDKs
//! send, [`codec`] and [`chunk`] to compress and group accepted batches, and [`frame`] to cut chunks into the
//! checksummed, size-bounded records of its durable buffer; the control plane reads the same chunk format back
//! when the uploader delivers it; [`policy`] is the policy document both sides validate, sign and diff. Everything
//! here is pure (no I/O, no clocks) so it can be tested exhaustively.

#![forbid(unsafe_code)]

pub mod batch;
pub mod chunk;
pub mod codec;
pub mod frame;
pub mod limits;
pub mod policy;
pub mod url;

pub use batch::{BatchError, BatchErrorKind, BatchSummary};
pub use chunk::{Chunk, ChunkError, Record, RecordMeta};
pub use codec::{Codec, CodecError};
pub use frame::{Damage, Frame, FrameError, Scan, FRAME_HEADER_LEN, MAX_FRAME_LEN};
pub use limits::Limits;
