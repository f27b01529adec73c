//! BEP 9 metadata assembly: the sans-IO assembler lives in `lt-wire`
//! (`lt_wire::ut_metadata`), where the fuzz targets reach it; re-exported
//! here for the engine.
pub use lt_wire::ut_metadata::*;
