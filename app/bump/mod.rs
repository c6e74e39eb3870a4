//! bump
