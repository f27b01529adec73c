//! The uTP configuration carries libtorrent's settings with their defaults.

use lt_settings::{default_value, SettingIndex, Value};
use lt_utp::UtpConfig;

#[test]
fn defaults_are_libtorrents() {
    let cfg = UtpConfig::default();
    for name in UtpConfig::SETTING_NAMES {
        let idx = SettingIndex::from_name(name).unwrap_or_else(|| panic!("{name} is a setting"));
        let Some(Value::Int(want)) = default_value(idx) else {
            panic!("{name} is an int setting");
        };
        assert_eq!(cfg.setting(name), Some(want as u32), "{name}");
    }
}

#[test]
fn settings_apply_by_name() {
    let mut cfg = UtpConfig::default();
    for (i, name) in UtpConfig::SETTING_NAMES.iter().enumerate() {
        assert!(cfg.apply_setting(name, 1000 + i as i32));
        assert_eq!(cfg.setting(name), Some(1000 + i as u32));
    }
    assert!(cfg.apply_setting("utp_gain_factor", -5));
    assert_eq!(cfg.utp_gain_factor, 0);
    assert!(!cfg.apply_setting("utp_delayed_ack", 1));
    assert!(!cfg.apply_setting("nonsense", 1));
    assert_eq!(cfg.setting("nonsense"), None);
}
