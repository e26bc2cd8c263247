//! The keyboard: the window's shortcuts in one place (consumed where they act, named in tooltips and in
//! the F1 help), and the Tab order of the start screen and the chat view.
//!
//! egui moves the focus on Tab in the order widgets are drawn. The chat view draws its panels in the
//! order their layout needs: the top bar right to left, the address banner and the side panels before the
//! send row. As a Tab order that would put the send box behind every button of the bar, the client list
//! and the calls panel. So the controls of both screens name their place ([`Group`], through
//! [`TabStop::tab`]) and [`begin_frame`] moves the focus through them in that order. Controls that name
//! none (the save form, the help, a drop-down's list, the panels' resize handles) keep egui's own order,
//! and a Tab from one of them is egui's.

use egui::{Context, Id, Key, KeyboardShortcut, Modifiers, Response};

/// Quits the window (and stops the session with it).
pub const QUIT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Q);
/// Opens the find bar, or takes the keyboard back to it.
pub const FIND: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::F);
/// Shows or hides the keyboard help.
pub const HELP: KeyboardShortcut = KeyboardShortcut::new(Modifiers::NONE, Key::F1);
/// The find bar's next and previous match, from anywhere in the chat view while the bar is open.
pub const FIND_NEXT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::NONE, Key::F3);
pub const FIND_PREVIOUS: KeyboardShortcut = KeyboardShortcut::new(Modifiers::SHIFT, Key::F3);

/// `what (Ctrl+F)`, with the keys as this system writes them (Cmd on macOS): for tooltips.
pub fn with_keys(ctx: &Context, what: &str, shortcut: &KeyboardShortcut) -> String {
    format!("{what} ({})", ctx.format_shortcut(shortcut))
}

/// Where a control comes in the Tab order: groups in this order, and within a group by slot, then in the
/// order drawn.
///
/// The start screen goes down its form to Start or Connect, then through the servers found on the
/// network (the list above the form changes as servers come and go, and its Use and Join are shortcuts
/// for filling the form, which the keyboard reaches first), then the theme and help buttons in its
/// corner.
///
/// The chat view starts at the send box, where the keyboard lives, and its Send button; then the
/// recipient ("To"), chosen less often; the top bar left to right; the addresses to copy; the client
/// list; the find bar; the history's "Jump to latest"; and last the Socket calls panel, whose calls are
/// many and read rather than used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    Form,
    Found,
    Corner,
    Send,
    Target,
    Bar,
    Addresses,
    Clients,
    Find,
    History,
    Calls,
}

/// What [`begin_frame`] and the controls share, in the context's memory: the stops drawn this frame and
/// the order they made last frame.
#[derive(Clone, Default)]
struct Order {
    drawn: Vec<(Group, u16, Id)>,
    last: Vec<Id>,
    /// The focus last moved by Tab rather than by the pointer: the focused control gets a ring.
    keyboard: bool,
}

fn order_id() -> Id {
    Id::unique("sockchat tab order")
}

/// Taking part in the Tab order.
pub trait TabStop: Sized {
    /// This control is a Tab stop of `group`, after the group's controls drawn before it.
    fn tab(self, group: Group) -> Self {
        self.tab_at(group, 0)
    }
    /// This control is a Tab stop of `group` at `slot`: for a row drawn right to left.
    fn tab_at(self, group: Group, slot: u16) -> Self;
}

impl TabStop for Response {
    fn tab_at(self, group: Group, slot: u16) -> Self {
        // egui does not scroll to the focused control: a Tab to the start form's last button in a small
        // window, or to a card low in the client list, would land out of sight.
        if self.gained_focus() {
            self.scroll_to_me(None);
        }
        // Only what egui itself would let the keyboard reach: enabled and focusable.
        if self.enabled() && self.sense.is_focusable() {
            self.ctx.data_mut(|d| {
                d.get_temp_mut_or_default::<Order>(order_id()).drawn.push((group, slot, self.id));
            });
        }
        self
    }
}

/// Before anything is drawn: orders last frame's stops, and moves the focus on Tab / Shift+Tab to the
/// next or previous of them (wrapping), when the focus is on one of them or nowhere. `own` is false while
/// something of egui's own order is in front (the save form, the help), which then keeps the keys.
pub fn begin_frame(ctx: &Context, own: bool) {
    let mut order = ctx.data_mut(|d| std::mem::take(d.get_temp_mut_or_default::<Order>(order_id())));
    order.drawn.sort_by_key(|&(group, slot, _)| (group, slot));
    order.last = order.drawn.drain(..).map(|(_, _, id)| id).collect();
    // A key's effect can show only in the frame after it (a menu it opened, a theme it chose), and
    // unlike a click, whose release brings a second frame, a key pressed and released at once brings one.
    if ctx.input(|i| i.events.iter().any(|e| matches!(e, egui::Event::Key { pressed: true, .. }))) {
        ctx.request_repaint();
    }
    let (tab, pointer) = ctx.input(|i| {
        let tab = i.events.iter().find_map(|e| match e {
            egui::Event::Key { key: Key::Tab, pressed: true, modifiers, .. } if !modifiers.any() => {
                Some((Modifiers::NONE, true))
            }
            egui::Event::Key { key: Key::Tab, pressed: true, modifiers, .. } if modifiers.shift_only() => {
                Some((Modifiers::SHIFT, false))
            }
            _ => None,
        });
        (tab, i.pointer.any_pressed())
    });
    if pointer {
        order.keyboard = false;
    }
    if let Some((mods, forward)) = tab {
        order.keyboard = true;
        let focused = ctx.memory(|m| m.focused());
        let at = focused.and_then(|f| order.last.iter().position(|id| *id == f));
        let n = order.last.len();
        let ours = own && n > 0 && (focused.is_none() || at.is_some());
        if ours {
            let next = match (at, forward) {
                (Some(i), true) => (i + 1) % n,
                (Some(i), false) => (i + n - 1) % n,
                (None, true) => 0,
                (None, false) => n - 1,
            };
            let target = order.last[next];
            ctx.input_mut(|i| i.consume_key(mods, Key::Tab));
            // egui has already read the Tab this frame and would move the focus on by its own order.
            ctx.memory_mut(|m| {
                m.move_focus(egui::FocusDirection::None);
                m.request_focus(target);
            });
        }
    }
    ctx.data_mut(|d| d.insert_temp(order_id(), order));
}

/// After everything is drawn: a ring around the control the keyboard is on, once Tab has moved it there
/// (egui marks a focused button only as it marks a pressed one). A text field has its own, and a cursor.
pub fn focus_ring(ctx: &Context) {
    let keyboard = ctx.data(|d| d.get_temp::<Order>(order_id()).is_some_and(|o| o.keyboard))
        && !ctx.egui_wants_keyboard_input();
    let Some(id) = ctx.memory(|m| m.focused()).filter(|_| keyboard) else { return };
    let Some(r) = ctx.read_response(id) else { return };
    let stroke = ctx.global_style().visuals.selection.stroke;
    let painter = egui::Painter::new(ctx.clone(), r.layer_id, r.interact_rect.expand(4.0));
    painter.rect_stroke(
        r.rect.expand(1.0),
        3.0,
        egui::Stroke::new(2.0, stroke.color),
        egui::StrokeKind::Outside,
    );
}
