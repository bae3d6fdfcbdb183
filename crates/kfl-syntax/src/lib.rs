//! kfl-syntax
