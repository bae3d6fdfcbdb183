//! kfl-check
