//! The userinfo response: `UserInfo::parse`, then the claims table (`flattened`) and the name
//! the TV shows (`display_name`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tvsignin::oidc::userinfo::UserInfo;

fuzz_target!(|data: &[u8]| {
    let response = tvsignin_fuzz::response("userinfo_endpoint", data);
    match UserInfo::parse(&response) {
        Ok(info) => {
            assert!(!info.sub().is_empty());
            let rows = info.flattened();
            assert!(rows.windows(2).all(|w| w[0].0 <= w[1].0), "rows are sorted");
            let name = info.display_name();
            assert!(!name.is_empty() || info.sub().trim().is_empty());
        }
        Err(error) => tvsignin_fuzz::describe(&error),
    }
});
