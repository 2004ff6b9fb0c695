//! Thumbnail benchmark (filled in below).

fn main() {}
