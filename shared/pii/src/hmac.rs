//! HMAC-SHA256 (RFC 2104) with the key's inner and outer hash states computed once, for token text.
//!
//! A token is an HMAC of a short value, so the cost per token is dominated by what happens around the two
//! SHA-256 compressions it needs: a generic HMAC context copies its key state, buffers every update and
//! finalises through several layers per call. Here a value of up to 55 bytes (with its entity name) costs exactly
//! two compressions and no allocation. The compression is the `sha2` crate's, with SHA-NI where the CPU has it.

use sha2::digest::generic_array::GenericArray;

const IV: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// A key reduced to the SHA-256 states after its inner (`0x36`) and outer (`0x5c`) padded blocks.
#[derive(Clone)]
pub(crate) struct HmacSha256 {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl HmacSha256 {
    pub(crate) fn new(key: &[u8]) -> HmacSha256 {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let padded = |pad: u8| {
            let mut state = IV;
            compress(&mut state, &block.map(|b| b ^ pad));
            state
        };
        HmacSha256 { inner: padded(0x36), outer: padded(0x5c) }
    }

    /// The MAC of the concatenation of `parts`.
    pub(crate) fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        // Both streams continue after one key block.
        let mut inner = Stream::after(self.inner, 64);
        for part in parts {
            inner.update(part);
        }
        let inner = inner.finish();
        let mut outer = Stream::after(self.outer, 64);
        outer.update(&inner);
        outer.finish()
    }
}

/// SHA-256 of `data` (for keys longer than a block).
fn digest(data: &[u8]) -> [u8; 32] {
    let mut stream = Stream::after(IV, 0);
    stream.update(data);
    stream.finish()
}

/// A SHA-256 computation in progress; `total` counts every byte hashed, including key blocks.
struct Stream {
    state: [u32; 8],
    block: [u8; 64],
    filled: usize,
    total: u64,
}

impl Stream {
    /// A stream whose first `hashed` bytes (whole blocks) left it in `state`.
    fn after(state: [u32; 8], hashed: u64) -> Stream {
        Stream { state, block: [0; 64], filled: 0, total: hashed }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        while !data.is_empty() {
            let n = data.len().min(64 - self.filled);
            self.block[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == 64 {
                compress(&mut self.state, &self.block);
                self.filled = 0;
            }
        }
    }

    fn finish(mut self) -> [u8; 32] {
        let bits = self.total * 8;
        self.block[self.filled] = 0x80;
        self.block[self.filled + 1..].fill(0);
        if self.filled >= 56 {
            compress(&mut self.state, &self.block);
            self.block.fill(0);
        }
        self.block[56..].copy_from_slice(&bits.to_be_bytes());
        compress(&mut self.state, &self.block);
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc4231_vectors() {
        let cases: [(&[u8], &[u8], &str); 4] = [
            (&[0x0b; 20], b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (&[0xaa; 20], &[0xdd; 50], "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(hex(&HmacSha256::new(key).sign(&[data])), want);
        }
    }

    #[test]
    fn parts_and_lengths_across_block_edges_match_one_message() {
        let key = HmacSha256::new(&[9; 32]);
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 128, 191, 300] {
            let whole = key.sign(&[&data[..len]]);
            for cut in [0, len / 3, len / 2, len] {
                assert_eq!(key.sign(&[&data[..cut], &data[cut..len]]), whole, "len {len}, cut {cut}");
            }
        }
        assert_eq!(hex(&digest(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
