//! Cron schedule validation (the syntax the CronJob controller accepts).

/// Checks a CronJob schedule: five fields (minute hour day-of-month month day-of-week) or a
/// macro (`@hourly`, ...), with an optional `TZ=`/`CRON_TZ=` prefix.
pub fn validate(schedule: &str) -> Result<(), String> {
    let mut s = schedule.trim();
    if let Some(rest) = s.strip_prefix("TZ=").or_else(|| s.strip_prefix("CRON_TZ=")) {
        s = rest.split_once(' ').map(|(_, r)| r.trim()).ok_or("a time zone needs a schedule after it")?;
    }
    if s.starts_with('@') {
        return match s {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(()),
            _ if s.starts_with("@every ") => Ok(()),
            _ => Err(format!("unknown macro {s}")),
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected 5 fields, found {}", fields.len()));
    }
    const RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
    const NAMES: [&[&str]; 5] = [
        &[],
        &[],
        &[],
        &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    ];
    for (i, f) in fields.iter().enumerate() {
        field(f, RANGES[i], NAMES[i]).map_err(|e| format!("field {} ({f}): {e}", i + 1))?;
    }
    Ok(())
}

fn value(v: &str, (lo, hi): (u32, u32), names: &[&str]) -> Result<u32, String> {
    let lower = v.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        return Ok(i as u32 + lo);
    }
    let n: u32 = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
    if n < lo || n > hi {
        return Err(format!("{n} is outside {lo}-{hi}"));
    }
    Ok(n)
}

fn field(f: &str, range: (u32, u32), names: &[&str]) -> Result<(), String> {
    for part in f.split(',') {
        let (base, step) = match part.split_once('/') {
            Some((b, s)) => (b, Some(s)),
            None => (part, None),
        };
        if let Some(s) = step {
            let n: u32 = s.parse().map_err(|_| format!("bad step {s:?}"))?;
            if n == 0 {
                return Err("step 0".into());
            }
        }
        if base == "*" || base == "?" {
            continue;
        }
        match base.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (value(a, range, names)?, value(b, range, names)?);
                if a > b {
                    return Err(format!("range {a}-{b} is reversed"));
                }
            }
            None => {
                value(base, range, names)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn valid_and_invalid_schedules() {
        for ok in ["*/5 * * * *", "0 3 * * 1-5", "15,45 0-6/2 1 jan-mar sun", "@hourly", "CRON_TZ=UTC 0 0 * * *"] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        for bad in ["invalid-cron", "* * * *", "61 * * * *", "*/0 * * * *", "@sometimes", "5-1 * * * *"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }
}
