//! Exact-match cache with Open vSwitch semantics.
