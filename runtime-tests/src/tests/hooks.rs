//! placeholder until written
use crate::driver::registry::Test;
pub const TESTS: &[Test] = &[];
