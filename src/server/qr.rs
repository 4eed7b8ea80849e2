//! QR codes for the TV, rendered on the server as SVG: error correction M and the standard
//! quiet zone of 4 modules, scaled by CSS to be scannable from a sofa.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An SVG QR code of `data`, or `None` if it does not fit in a QR code.
pub fn qr_svg(data: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).ok()?;
    let modules = code.width() as u32 + 8;
    let svg = code
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(1, 1)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Drop the XML prolog and the fixed size so the SVG can sit inline and scale.
    let start = svg.find("<svg")?;
    let svg = &svg[start..];
    let open_end = svg.find('>')?;
    let body = &svg[open_end + 1..];
    Some(format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {modules} {modules}" shape-rendering="crispEdges" role="img" aria-label="QR code">{body}"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_scales_and_has_the_quiet_zone() {
        let svg = qr_svg("https://idp.example/device?user_code=WDJB-MJHT").unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(!svg.contains("<?xml"));
        // 33 modules for this length at level M (version 4), plus 4 on each side.
        assert!(svg.contains(r#"viewBox="0 0 41 41""#), "{}", &svg[..200]);
    }
}
