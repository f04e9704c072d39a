//! fastpath host library.
