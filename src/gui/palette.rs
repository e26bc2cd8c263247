//! Who said it: each peer's colour. A connected peer gets a palette entry no other connected peer has,
//! in order of arrival, and keeps it while it stays connected; a freed entry goes to the next arrival.
//!
//! The assignment ([`PeerColors`]) is plain state with no egui in it, so it is tested without a window.
//! The palettes were made in OKLab: twelve hues from orange round to crimson, skipping the red of
//! `error_fg_color`, at two lightnesses taken in turn, so neighbours differ in lightness as well as hue.
//! Consecutive arrivals take hues five steps apart, so the first few peers differ the most. The tests
//! below measure what was aimed for: contrast with each theme's background, the distance between any two
//! entries, and the distance from the error red.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use egui::Color32;

/// Entries in each palette: peers connected at once that are sure to have a colour of their own.
pub const PALETTE_LEN: usize = 12;

/// On the dark theme's background: OKLab lightness 0.80 and 0.68, chroma 0.15 (less where sRGB
/// cannot reach it).
const DARK: [Color32; PALETTE_LEN] = [
    Color32::from_rgb(0xff, 0xa6, 0x59), // orange
    Color32::from_rgb(0x0a, 0xae, 0xad), // teal
    Color32::from_rgb(0xf1, 0x99, 0xee), // pink
    Color32::from_rgb(0x60, 0xae, 0x51), // green
    Color32::from_rgb(0xaa, 0xb9, 0xfe), // lavender
    Color32::from_rgb(0xbc, 0x91, 0x13), // ochre
    Color32::from_rgb(0x10, 0xd2, 0xff), // sky
    Color32::from_rgb(0xde, 0x6d, 0x9d), // rose
    Color32::from_rgb(0x38, 0xdc, 0xaa), // mint
    Color32::from_rgb(0xa9, 0x80, 0xe5), // violet
    Color32::from_rgb(0xbe, 0xc8, 0x47), // lime
    Color32::from_rgb(0x3d, 0x9e, 0xef), // blue
];

/// On the light theme's background: OKLab lightness 0.54 and 0.39, the same hues.
const LIGHT: [Color32; PALETTE_LEN] = [
    Color32::from_rgb(0xa2, 0x5a, 0x05),
    Color32::from_rgb(0x05, 0x50, 0x4f),
    Color32::from_rgb(0x9b, 0x49, 0x9a),
    Color32::from_rgb(0x14, 0x54, 0x02),
    Color32::from_rgb(0x56, 0x63, 0xc4),
    Color32::from_rgb(0x57, 0x41, 0x00),
    Color32::from_rgb(0x11, 0x7b, 0x95),
    Color32::from_rgb(0x7c, 0x0d, 0x49),
    Color32::from_rgb(0x01, 0x82, 0x61),
    Color32::from_rgb(0x55, 0x28, 0x86),
    Color32::from_rgb(0x6f, 0x75, 0x03),
    Color32::from_rgb(0x00, 0x47, 0x7a),
];

/// Palette entry `slot` in the dark or light theme.
pub fn slot_color(slot: usize, dark: bool) -> Color32 {
    let p = if dark { &DARK } else { &LIGHT };
    p[slot % PALETTE_LEN]
}

/// Which palette entry each peer has, by address (a connected peer's `ip:port` is its own).
///
/// Past [`PALETTE_LEN`] peers at once, an arrival shares the entry the fewest connected peers hold
/// (the first such in palette order), so colours stay as spread as they can. A peer that left keeps,
/// for its old lines, the entry it had, for the last [`Self::REMEMBERED`] that left.
#[derive(Debug, Default, Clone)]
pub struct PeerColors {
    connected: HashMap<SocketAddr, usize>,
    /// Connected peers holding each entry.
    holders: [u32; PALETTE_LEN],
    left: HashMap<SocketAddr, usize>,
    left_order: VecDeque<SocketAddr>,
}

impl PeerColors {
    /// Peers that left whose entry is remembered: bounded, since a client never learns when a room's
    /// other senders leave and a server could invent addresses without end.
    pub const REMEMBERED: usize = 4096;

    /// Gives `addr` an entry if it has none; returns its entry.
    pub fn arrive(&mut self, addr: SocketAddr) -> usize {
        if let Some(&slot) = self.connected.get(&addr) {
            return slot;
        }
        let fewest = self.holders.iter().copied().min().unwrap_or(0);
        let slot = self.holders.iter().position(|&n| n == fewest).unwrap_or(0);
        self.holders[slot] += 1;
        self.connected.insert(addr, slot);
        if self.left.remove(&addr).is_some() {
            self.left_order.retain(|a| *a != addr);
        }
        slot
    }

    /// `addr` has gone: its entry is free for the next arrival (its old lines keep it meanwhile).
    pub fn leave(&mut self, addr: SocketAddr) {
        let Some(slot) = self.connected.remove(&addr) else { return };
        self.holders[slot] = self.holders[slot].saturating_sub(1);
        if self.left.insert(addr, slot).is_none() {
            self.left_order.push_back(addr);
        }
        while self.left_order.len() > Self::REMEMBERED {
            if let Some(old) = self.left_order.pop_front() {
                self.left.remove(&old);
            }
        }
    }

    /// The entry of a connected peer.
    pub fn connected_slot(&self, addr: &SocketAddr) -> Option<usize> {
        self.connected.get(addr).copied()
    }

    /// The entry `addr`'s lines are drawn in: its own while connected, the last it had after it left.
    pub fn slot(&self, addr: &SocketAddr) -> Option<usize> {
        self.connected_slot(addr).or_else(|| self.left.get(addr).copied())
    }

    /// The colour of `addr`'s lines in the current theme; the theme's weak text colour `fallback` for an
    /// address never seen.
    pub fn color(&self, addr: &SocketAddr, dark: bool, fallback: Color32) -> Color32 {
        self.slot(addr).map_or(fallback, |s| slot_color(s, dark))
    }

    pub fn connected_count(&self) -> usize {
        self.connected.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::new([127, 0, 0, 1].into(), port)
    }

    fn linear(c: u8) -> f64 {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    }

    /// OKLab (Björn Ottosson's matrices) from sRGB.
    fn oklab(c: Color32) -> [f64; 3] {
        let (r, g, b) = (linear(c.r()), linear(c.g()), linear(c.b()));
        let l = (0.412_221_470_8 * r + 0.536_332_536_3 * g + 0.051_445_992_9 * b).cbrt();
        let m = (0.211_903_498_2 * r + 0.680_699_545_1 * g + 0.107_396_956_6 * b).cbrt();
        let s = (0.088_302_461_9 * r + 0.281_718_837_6 * g + 0.629_978_700_5 * b).cbrt();
        [
            0.210_454_255_3 * l + 0.793_617_785_0 * m - 0.004_072_046_8 * s,
            1.977_998_495_1 * l - 2.428_592_205_0 * m + 0.450_593_709_9 * s,
            0.025_904_037_1 * l + 0.782_771_766_2 * m - 0.808_675_766_0 * s,
        ]
    }

    fn distance(a: Color32, b: Color32) -> f64 {
        let (a, b) = (oklab(a), oklab(b));
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    }

    /// WCAG 2 contrast ratio.
    fn contrast(a: Color32, b: Color32) -> f64 {
        let lum = |c: Color32| 0.2126 * linear(c.r()) + 0.7152 * linear(c.g()) + 0.0722 * linear(c.b());
        let (x, y) = (lum(a), lum(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn palettes_read_on_their_background_stay_apart_and_clear_of_the_error_red() {
        for (dark, vis) in [(true, egui::Visuals::dark()), (false, egui::Visuals::light())] {
            let pal: Vec<Color32> = (0..PALETTE_LEN).map(|s| slot_color(s, dark)).collect();
            for (i, &c) in pal.iter().enumerate() {
                for bg in [vis.panel_fill, vis.window_fill] {
                    let k = contrast(c, bg);
                    assert!(
                        k >= 4.5,
                        "dark={dark} entry {i} {c:?}: contrast {k:.2} with {bg:?} (WCAG AA 4.5)"
                    );
                }
                let red = distance(c, vis.error_fg_color);
                assert!(red >= 0.15, "dark={dark} entry {i} {c:?} is {red:.3} from the error red");
                let text = distance(c, vis.strong_text_color());
                assert!(text >= 0.15, "dark={dark} entry {i} {c:?} is {text:.3} from the text colour");
                for (j, &d) in pal.iter().enumerate().skip(i + 1) {
                    let apart = distance(c, d);
                    assert!(
                        apart >= 0.08,
                        "dark={dark} entries {i} and {j} are only {apart:.3} apart in OKLab"
                    );
                }
            }
            // The first arrivals get the most different entries.
            for i in 0..6 {
                for j in i + 1..6 {
                    assert!(distance(pal[i], pal[j]) >= 0.1, "dark={dark}: first six, {i} and {j}");
                }
            }
        }
    }

    #[test]
    fn twelve_connected_peers_have_twelve_colours_and_a_freed_one_goes_to_the_next_arrival() {
        let mut pc = PeerColors::default();
        let slots: Vec<usize> = (0..12).map(|p| pc.arrive(addr(1000 + p))).collect();
        assert_eq!(slots, (0..12).collect::<Vec<_>>(), "assigned by arrival");
        assert_eq!(pc.arrive(addr(1003)), 3, "kept while connected");
        pc.leave(addr(1003));
        pc.leave(addr(1007));
        assert_eq!(pc.connected_slot(&addr(1003)), None);
        assert_eq!(pc.slot(&addr(1003)), Some(3), "its old lines keep the colour");
        assert_eq!(pc.arrive(addr(2000)), 3, "the first freed entry in palette order");
        assert_eq!(pc.arrive(addr(2001)), 7);
        let mut held: Vec<usize> =
            (1000..1012).chain([2000, 2001]).filter_map(|p| pc.connected_slot(&addr(p))).collect();
        held.sort_unstable();
        assert_eq!(held, (0..12).collect::<Vec<_>>(), "no two connected peers share");
        // A thirteenth shares the entry fewest hold, and the fourteenth another one.
        assert_eq!(pc.arrive(addr(3000)), 0);
        assert_eq!(pc.arrive(addr(3001)), 1);
        assert_eq!(pc.connected_count(), 14);
        pc.leave(addr(9999));
        assert_eq!(pc.connected_count(), 14, "an unknown leaver changes nothing");
    }

    #[test]
    fn departed_peers_are_remembered_within_a_bound() {
        let mut pc = PeerColors::default();
        for p in 0..(PeerColors::REMEMBERED as u16 + 10) {
            pc.arrive(addr(p));
            pc.leave(addr(p));
        }
        assert_eq!(pc.left.len(), PeerColors::REMEMBERED);
        assert_eq!(pc.left_order.len(), PeerColors::REMEMBERED);
        assert_eq!(pc.slot(&addr(0)), None, "the oldest is forgotten");
        assert!(pc.slot(&addr(PeerColors::REMEMBERED as u16 + 9)).is_some());
        // Coming back makes it connected again, not remembered twice.
        pc.arrive(addr(20));
        pc.leave(addr(20));
        assert_eq!(pc.left_order.iter().filter(|a| **a == addr(20)).count(), 1);
    }
}
