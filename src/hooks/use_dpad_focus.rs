//! `use_dpad_focus`: a TV remote has arrows and OK, no pointer. Arrow keys move the focus
//! between the screen's actions, and each new screen focuses its main action.

use leptos::prelude::*;

pub fn use_dpad_focus(screen: Signal<&'static str>) {
    #[cfg(feature = "hydrate")]
    {
        Effect::new(move |_| {
            screen.track();
            request_animation_frame(browser::focus_main_action);
        });
        let handle = window_event_listener(leptos::ev::keydown, |event| {
            let step = match event.key().as_str() {
                "ArrowDown" | "ArrowRight" => 1,
                "ArrowUp" | "ArrowLeft" => -1,
                _ => return,
            };
            event.prevent_default();
            browser::move_focus(step);
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = screen;
}

#[cfg(feature = "hydrate")]
mod browser {
    use wasm_bindgen::JsCast;
    use web_sys::HtmlElement;

    fn actions() -> Vec<HtmlElement> {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return Vec::new();
        };
        let Ok(list) = document.query_selector_all("main button:not([disabled]), main a[href]")
        else {
            return Vec::new();
        };
        (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|n| n.dyn_into::<HtmlElement>().ok())
            .collect()
    }

    pub fn focus_main_action() {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let target = document
            .query_selector("main [data-autofocus]")
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<HtmlElement>().ok())
            .or_else(|| actions().into_iter().next());
        if let Some(element) = target {
            let _ = element.focus();
        }
    }

    pub fn move_focus(step: i32) {
        let actions = actions();
        if actions.is_empty() {
            return;
        }
        let active = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.active_element());
        let current = actions
            .iter()
            .position(|a| Some(a.unchecked_ref::<web_sys::Element>()) == active.as_ref());
        let len = actions.len() as i32;
        let next = match current {
            Some(i) => (i as i32 + step).rem_euclid(len),
            None => 0,
        };
        let _ = actions[next as usize].focus();
    }
}
