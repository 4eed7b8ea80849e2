//! QR codes for the TV, rendered on the server as SVG: error correction M and the standard
//! quiet zone of 4 modules, scaled by CSS to be scannable from a sofa.
//!
//! Stored statuses carry no SVG: it is drawn from the pairing's link every time a status is
//! sent ([`with_qr`]), so a pairing costs its URIs, not a few kilobytes of SVG, in memory, in
//! Redis and on the change channel between replicas; and since the TV puts the SVG into its
//! page as markup, only what this module draws may ever be there, never a stored one.

use std::fmt::Write;

use qrcode::{Color, EcLevel, QrCode};

use crate::model::TvStatus;

const QUIET_ZONE: usize = 4;

/// An SVG QR code of `data`, or `None` if it does not fit in a QR code. Each horizontal run
/// of dark modules is one rectangle in a single path, which keeps the SVG small.
pub fn qr_svg(data: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET_ZONE;
    let mut path = String::with_capacity(width * width / 2);
    for (y, row) in colors.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if row[x] == Color::Light {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && row[x] == Color::Dark {
                x += 1;
            }
            let _ = write!(
                path,
                "M{} {}h{}v1h-{}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE,
                x - start,
                x - start
            );
        }
    }
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" shape-rendering="crispEdges" role="img" aria-label="QR code"><rect width="{size}" height="{size}" fill="#fff"/><path fill="#000" d="{path}"/></svg>"##
    ))
}

/// What the QR code encodes: the complete URI (code included) when it is a web address,
/// else the plain verification URI.
pub fn qr_target<'a>(verification_uri: &'a str, complete: Option<&'a str>) -> &'a str {
    complete
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .unwrap_or(verification_uri)
}

/// The status with the QR code of the pairing on screen drawn in, ready to send. Whatever
/// SVG the status held is replaced.
pub fn with_qr(mut status: TvStatus) -> TvStatus {
    let pairing = match &mut status {
        TvStatus::Waiting { pairing } => Some(pairing),
        TvStatus::Unreachable { pairing } => pairing.as_mut(),
        _ => None,
    };
    if let Some(pairing) = pairing {
        let target = qr_target(
            &pairing.verification_uri,
            pairing.verification_uri_complete.as_deref(),
        );
        pairing.qr_svg = qr_svg(target).unwrap_or_default();
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PairingView;

    #[test]
    fn svg_scales_and_has_the_quiet_zone() {
        let svg = qr_svg("https://idp.example/device?user_code=WDJB-MJHT").unwrap();
        assert!(svg.starts_with("<svg"));
        // 33 modules for this length at level M (version 4), plus 4 on each side.
        assert!(svg.contains(r#"viewBox="0 0 41 41""#), "{}", &svg[..200]);
        // The top-left finder pattern: a run of 7 dark modules starting inside the quiet zone.
        assert!(svg.contains("M4 4h7v1h-7z"), "{svg}");
        assert!(svg.len() < 5000, "{} bytes", svg.len());
    }

    #[test]
    fn the_qr_is_drawn_when_sent() {
        let pairing = PairingView {
            user_code: "WDJB-MJHT".into(),
            verification_uri: "https://idp.example/device".into(),
            verification_uri_complete: Some("https://idp.example/device?c=WDJB-MJHT".into()),
            qr_svg: String::new(),
            expires_at_ms: 0,
            interval_secs: 5,
        };
        let sent = with_qr(TvStatus::Waiting {
            pairing: pairing.clone(),
        });
        let expected = qr_svg("https://idp.example/device?c=WDJB-MJHT").unwrap();
        assert_eq!(sent.pairing().unwrap().qr_svg, expected);
        // A complete URI that is not a web address is not put in the QR code.
        assert_eq!(
            qr_target("https://idp.example/device", Some("otpauth://x")),
            "https://idp.example/device"
        );
        assert_eq!(with_qr(TvStatus::Idle), TvStatus::Idle);
    }

    #[test]
    fn a_drawing_that_came_with_the_status_is_never_sent() {
        let planted = PairingView {
            user_code: "WDJB-MJHT".into(),
            verification_uri: "https://idp.example/device".into(),
            verification_uri_complete: None,
            qr_svg: r#"<svg><foreignObject><img src=x onerror="alert(1)"></foreignObject></svg>"#
                .into(),
            expires_at_ms: 0,
            interval_secs: 5,
        };
        let expected = qr_svg("https://idp.example/device").unwrap();
        for status in [
            TvStatus::Waiting {
                pairing: planted.clone(),
            },
            TvStatus::Unreachable {
                pairing: Some(planted.clone()),
            },
        ] {
            let sent = with_qr(status);
            assert_eq!(sent.pairing().unwrap().qr_svg, expected);
        }
    }
}
