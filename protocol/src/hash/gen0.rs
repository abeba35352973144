//! Gen0: the 3DES (DES-EDE2, ECB) very old firmware logs in with, one 8-byte block per field.
//!
//! The key is ASCII `poiuytrewq` zero-padded to 16 bytes (K1 = bytes 0..8, K2 = 8..16,
//! K3 = K1); the input is cut to 8 bytes and NUL-padded. DES is written here because it is a
//! few tables, and because the Dahua variant is not DES any library offers.
//!
//! # The Dahua variant
//!
//! mcw0 (`Dahua-3DES-IMOU-PoC.py`, and the same code in DahuaConsole) replicates Dahua's DES
//! from pyDes with changes, and quotes what clients (ConfigTool, SmartPSS) put on the wire:
//! `c4 a3 af 48 99 56 b6 b4` for `admin`, `54 ab ae b6 01 21 d6 71` for `donotuse`. Three
//! changes are needed to reproduce those bytes, and [`Gen0Variant::Dahua`] makes all three:
//!
//! 1. bytes are turned into bits and back least-significant bit first (data and key);
//! 2. each S-box's 4-bit output is written least-significant bit first;
//! 3. encryption skips the swap of the two halves before the final permutation (decryption,
//!    used in the middle of EDE, is its inverse). mcw0's code does this without marking it;
//!    the project reference (section 4.3) names only the first two.
//!
//! Fixture F12's Dahua value `c8535f8466a97978` (computed, not captured) is what changes 1
//! and 2 alone give, so it matches neither mcw0's code nor its wire bytes; a test below pins
//! that down. The standard value `0afe672c8922a74c` agrees with OpenSSL's `des-ede-ecb`.

/// Which DES the 3DES is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gen0Variant {
    /// FIPS 46-3 DES, as any library computes it.
    Standard,
    /// Dahua's DES, as devices and Dahua clients compute it (see the module doc).
    Dahua,
}

/// The Gen0 hash of `input`: 3DES-EDE2 of its first 8 bytes, NUL-padded, under the fixed key.
pub fn gen0(input: &[u8], variant: Gen0Variant) -> [u8; 8] {
    let mut block = [0u8; 8];
    let len = input.len().min(block.len());
    block[..len].copy_from_slice(&input[..len]);
    ede2(K1, K2, block, variant.quirks())
}

/// `poiuytrewq`, zero-padded to the 16 bytes of an EDE2 key: its first half.
const K1: [u8; 8] = *b"poiuytre";
/// The second half of the padded key.
const K2: [u8; 8] = *b"wq\0\0\0\0\0\0";

/// The ways a DES can depart from FIPS 46-3; private so only the two real variants are public.
#[derive(Debug, Clone, Copy)]
struct Quirks {
    lsb_first_bytes: bool,
    lsb_first_sbox: bool,
    skips_final_swap: bool,
}

impl Gen0Variant {
    fn quirks(self) -> Quirks {
        let dahua = self == Self::Dahua;
        Quirks {
            lsb_first_bytes: dahua,
            lsb_first_sbox: dahua,
            skips_final_swap: dahua,
        }
    }
}

/// Encrypt, decrypt, encrypt with K1, K2, K1.
fn ede2(k1: [u8; 8], k2: [u8; 8], block: [u8; 8], quirks: Quirks) -> [u8; 8] {
    let k1 = Des::new(k1, quirks);
    let k2 = Des::new(k2, quirks);
    k1.encrypt(k2.decrypt(k1.encrypt(block)))
}

/// One DES key, expanded.
#[derive(Debug)]
struct Des {
    /// K1..K16, 48 bits each, in the low bits.
    subkeys: [u64; 16],
    quirks: Quirks,
}

impl Des {
    /// Expands `key`; its 8 parity bits are ignored, as in every DES.
    fn new(key: [u8; 8], quirks: Quirks) -> Self {
        let cd = permute(load(key, quirks), 64, &PC1);
        let (mut c, mut d) = ((cd >> 28) as u32, (cd & 0x0fff_ffff) as u32);
        let mut subkeys = [0u64; 16];
        for (subkey, &shift) in subkeys.iter_mut().zip(&SHIFTS) {
            c = rotate28(c, shift);
            d = rotate28(d, shift);
            *subkey = permute(u64::from(c) << 28 | u64::from(d), 56, &PC2);
        }
        Self { subkeys, quirks }
    }

    fn encrypt(&self, block: [u8; 8]) -> [u8; 8] {
        self.crypt(block, false)
    }

    fn decrypt(&self, block: [u8; 8]) -> [u8; 8] {
        self.crypt(block, true)
    }

    fn crypt(&self, block: [u8; 8], decrypt: bool) -> [u8; 8] {
        let permuted = permute(load(block, self.quirks), 64, &IP);
        let (mut left, mut right) = ((permuted >> 32) as u32, permuted as u32);
        if decrypt && self.quirks.skips_final_swap {
            // The encryption left its halves unswapped; swapping here makes this its inverse.
            std::mem::swap(&mut left, &mut right);
        }
        for round in 0..16 {
            let subkey = self.subkeys[if decrypt { 15 - round } else { round }];
            let next = left ^ self.feistel(right, subkey);
            left = right;
            right = next;
        }
        let preoutput = if self.quirks.skips_final_swap && !decrypt {
            u64::from(left) << 32 | u64::from(right)
        } else {
            u64::from(right) << 32 | u64::from(left)
        };
        store(permute(preoutput, 64, &FP), self.quirks)
    }

    /// The round function f(R, K).
    fn feistel(&self, right: u32, subkey: u64) -> u32 {
        let mixed = permute(u64::from(right), 32, &E) ^ subkey;
        let mut out = 0u32;
        for (index, sbox) in SBOXES.iter().enumerate() {
            let six = (mixed >> (42 - 6 * index)) & 0x3f;
            // Outer bits pick the row, inner four the column.
            let row = ((six >> 4) & 0b10) | (six & 1);
            let column = (six >> 1) & 0x0f;
            let mut nibble = sbox[(row * 16 + column) as usize];
            if self.quirks.lsb_first_sbox {
                nibble = nibble.reverse_bits() >> 4;
            }
            out = out << 4 | u32::from(nibble);
        }
        permute(u64::from(out), 32, &P) as u32
    }
}

/// Bytes to DES's bit numbering, where bit 1 is the most significant bit of byte 0.
fn load(mut bytes: [u8; 8], quirks: Quirks) -> u64 {
    if quirks.lsb_first_bytes {
        bytes = bytes.map(u8::reverse_bits);
    }
    u64::from_be_bytes(bytes)
}

/// The inverse of [`load`].
fn store(block: u64, quirks: Quirks) -> [u8; 8] {
    let bytes = block.to_be_bytes();
    if quirks.lsb_first_bytes {
        bytes.map(u8::reverse_bits)
    } else {
        bytes
    }
}

/// Applies a FIPS 46-3 table: output bit i (from the most significant) is input bit
/// `table[i]`, counted from 1 at the most significant of `width` bits.
fn permute(input: u64, width: u32, table: &[u8]) -> u64 {
    table.iter().fold(0, |out, &position| {
        out << 1 | (input >> (width - u32::from(position))) & 1
    })
}

fn rotate28(half: u32, shift: u32) -> u32 {
    (half << shift | half >> (28 - shift)) & 0x0fff_ffff
}

/// Left rotations of C and D before each subkey.
const SHIFTS: [u32; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/// FIPS 46-3 tables from here on; positions count from 1. Initial permutation.
const IP: [u8; 64] = [
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6,
    64, 56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61,
    53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];
/// Final permutation, the inverse of [`IP`].
const FP: [u8; 64] = [
    40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, 38, 6, 46, 14, 54, 22, 62, 30,
    37, 5, 45, 13, 53, 21, 61, 29, 36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
    34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];
/// Expansion of the 32-bit half to 48 bits.
const E: [u8; 48] = [
    32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, 16, 17, 18,
    19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
];
/// Permutation of the S-box outputs.
const P: [u8; 32] = [
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19,
    13, 30, 6, 22, 11, 4, 25,
];
/// Permuted choice 1: the 56 key bits that are not parity.
const PC1: [u8; 56] = [
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60,
    52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29,
    21, 13, 5, 28, 20, 12, 4,
];
/// Permuted choice 2: 48 of C and D for each subkey.
const PC2: [u8; 48] = [
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52,
    31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];
/// S1..S8, each 4 rows of 16.
const SBOXES: [[u8; 64]; 8] = [
    [
        14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12,
        11, 9, 5, 3, 8, 4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9,
        1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
    ],
    [
        15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1,
        10, 6, 9, 11, 5, 0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15,
        4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
    ],
    [
        10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5,
        14, 12, 11, 15, 1, 13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6,
        9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
    ],
    [
        7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2,
        12, 1, 10, 14, 9, 10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1,
        13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
    ],
    [
        2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15,
        10, 3, 9, 8, 6, 4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14,
        2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
    ],
    [
        12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13,
        14, 0, 11, 3, 8, 9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5,
        15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
    ],
    [
        4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5,
        12, 2, 15, 8, 6, 1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4,
        10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
    ],
    [
        13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6,
        11, 0, 14, 9, 2, 7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10,
        8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
    ],
];

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: [u8; 8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn block(value: u64) -> [u8; 8] {
        value.to_be_bytes()
    }

    #[test]
    fn standard_des_matches_the_published_test_vector() {
        // The worked example in J. Orlin Grabbe, "The DES Algorithm Illustrated".
        let des = Des::new(block(0x1334_5779_9BBC_DFF1), Gen0Variant::Standard.quirks());
        let ciphertext = des.encrypt(block(0x0123_4567_89AB_CDEF));
        assert_eq!(ciphertext, block(0x85E8_1354_0F0A_B405));
        assert_eq!(des.decrypt(ciphertext), block(0x0123_4567_89AB_CDEF));
    }

    #[test]
    fn standard_gen0_of_admin_matches_fixture_f12() {
        assert_eq!(
            hex(gen0(b"admin", Gen0Variant::Standard)),
            "0afe672c8922a74c"
        );
    }

    #[test]
    fn dahua_gen0_matches_the_bytes_mcw0_saw_dahua_clients_send() {
        assert_eq!(hex(gen0(b"admin", Gen0Variant::Dahua)), "c4a3af489956b6b4");
        assert_eq!(
            hex(gen0(b"donotuse", Gen0Variant::Dahua)),
            "54abaeb60121d671"
        );
    }

    #[test]
    fn lsb_first_bits_alone_give_the_f12_value_which_is_not_dahuas() {
        let two_quirks = Quirks {
            lsb_first_bytes: true,
            lsb_first_sbox: true,
            skips_final_swap: false,
        };
        let mut input = [0u8; 8];
        input[..5].copy_from_slice(b"admin");
        let value = ede2(K1, K2, input, two_quirks);
        assert_eq!(hex(value), "c8535f8466a97978");
        assert_ne!(value, gen0(b"admin", Gen0Variant::Dahua));
    }

    #[test]
    fn both_des_variants_decrypt_what_they_encrypt() {
        for variant in [Gen0Variant::Standard, Gen0Variant::Dahua] {
            let des = Des::new(K1, variant.quirks());
            let plain = *b"donotuse";
            assert_eq!(des.decrypt(des.encrypt(plain)), plain, "{variant:?}");
        }
    }

    #[test]
    fn gen0_reads_only_the_first_eight_bytes_and_pads_short_input_with_nuls() {
        for variant in [Gen0Variant::Standard, Gen0Variant::Dahua] {
            assert_eq!(
                gen0(b"donotuse-and-more", variant),
                gen0(b"donotuse", variant)
            );
            assert_eq!(gen0(b"admin", variant), gen0(b"admin\0\0\0", variant));
            assert_eq!(gen0(b"", variant), gen0(&[0; 8], variant));
        }
    }
}
