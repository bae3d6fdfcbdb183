//! kfl-fmt
