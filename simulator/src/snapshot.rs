//! The JPEG a simulated camera returns for a snapshot: a real 320×180 picture.

/// A baseline JPEG (starts `FF D8`, ends `FF D9`).
pub static JPEG: &[u8] = include_bytes!("../assets/snapshot.jpg");

#[cfg(test)]
mod tests {
    #[test]
    fn snapshot_is_a_complete_jpeg() {
        assert!(super::JPEG.starts_with(&[0xff, 0xd8, 0xff]));
        assert!(super::JPEG.ends_with(&[0xff, 0xd9]));
    }
}
