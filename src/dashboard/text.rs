//! The dashboard's words, in Chinese (the default) and English: the language comes from
//! `?lang=zh|en`, else the `kuayu_lang` cookie the toggle sets, else Chinese.

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 中文 (the default).
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The other language (for the toggle).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// Reads `zh` or `en`.
    pub fn parse(text: &str) -> Option<Lang> {
        match text {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language from the query's `lang`, else the cookie header's `kuayu_lang`.
    pub fn choose(query: Option<&str>, cookies: Option<&str>) -> Lang {
        query
            .and_then(Lang::parse)
            .or_else(|| {
                cookies?.split(';').find_map(|c| {
                    let (k, v) = c.trim().split_once('=')?;
                    (k == "kuayu_lang").then(|| Lang::parse(v)).flatten()
                })
            })
            .unwrap_or(Lang::Zh)
    }

    /// The words for `key` (the key itself where the table has none: a program's own
    /// names, such as a state or a problem code, are shown as they are).
    pub fn t(self, key: &str) -> &str {
        match WORDS.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => key,
        }
    }
}

/// (key, 中文, English).
const WORDS: &[(&str, &str, &str)] = &[
    ("title", "跨域司法协作监管", "Cross-region supervision"),
    ("gateway", "网关", "Gateway"),
    ("as_of", "数据时间", "As of"),
    ("toggle", "English", "中文"),
    ("volumes", "业务量", "Volumes"),
    (
        "per_day",
        "每日请求（近14天）",
        "Requests per day (last 14 days)",
    ),
    (
        "per_week",
        "每周请求（近12周）",
        "Requests per week (last 12 weeks)",
    ),
    ("by_kind", "按业务类型与方向", "By kind and direction"),
    ("by_partner", "按对方地区", "By partner region"),
    ("by_court", "按本地法院", "By our court"),
    ("today", "今日", "Today"),
    ("days7", "近7天", "Last 7 days"),
    ("weeks12", "近12周", "Last 12 weeks"),
    ("kind", "类型", "Kind"),
    ("direction", "方向", "Direction"),
    ("out", "发出", "Outbound"),
    ("in", "收到", "Inbound"),
    ("requester", "发出", "Outbound"),
    ("executor", "收到", "Inbound"),
    ("partner", "对方地区", "Partner region"),
    ("court", "法院", "Court"),
    ("service", "委托送达", "Service"),
    ("printing", "异地打印", "Printing"),
    ("evidence", "调查取证", "Evidence"),
    ("preservation", "财产保全", "Preservation"),
    ("filing", "跨域立案", "Filing"),
    ("in_flight", "在办工作", "Work in flight"),
    ("state", "状态", "State"),
    ("total", "合计", "Total"),
    ("overdue", "已超期", "Overdue"),
    (
        "due_next",
        "下一个工作日内到期",
        "Due by the end of the next working day",
    ),
    ("request", "请求", "Request"),
    ("courts", "法院", "Courts"),
    ("deadline", "期限", "Deadline"),
    ("due_at", "到期时间", "Due"),
    ("none", "无", "None"),
    ("more", "另有", "and more:"),
    ("cycle", "办理周期", "Cycle times"),
    (
        "cycle_note",
        "自请求在本网关提交至满足期限的答复；最近500件",
        "From the request's commit here to the answer that met the deadline; latest 500",
    ),
    ("median", "中位数", "Median"),
    ("p90", "90%分位", "90th percentile"),
    ("allowed", "协议期限", "Agreement's deadline"),
    ("late", "逾期办结", "Met late"),
    ("samples", "件数", "Count"),
    ("days", "天", "days"),
    ("postal", "邮寄送达", "Postal fallback"),
    (
        "postal_note",
        "近30天收到的委托送达中转为邮寄的比例",
        "Share of service requests received in the last 30 days that fell back to the post",
    ),
    ("fallback_rate", "转邮寄比例", "Fallback rate"),
    ("outcomes", "邮件状态", "Delivery outcomes"),
    ("jobs", "邮件数", "Print jobs"),
    ("freezes", "即将到期的冻结", "Freezes nearing expiry"),
    (
        "freezes_note",
        "到期提醒在前后30天内的冻结",
        "Freezes whose expiry warning falls within 30 days either side of now",
    ),
    ("warning_at", "到期提醒", "Expiry warning"),
    ("partners", "对方网关状态", "Partner health"),
    ("peer", "对方网关", "Peer"),
    ("breaker", "连接状态", "Circuit breaker"),
    ("closed", "正常", "up"),
    ("open", "中断", "down"),
    ("probing", "探测中", "probing"),
    ("backlog", "待发送", "Relay backlog"),
    ("oldest", "最早待发", "Oldest waiting since"),
    ("last_delivery", "最近送达", "Last successful delivery"),
    ("never", "从未", "never"),
    (
        "refusals",
        "拒收（近30天，按问题代码）",
        "Refusals (last 30 days, by problem code)",
    ),
    ("dead", "已放弃发送的消息", "Messages rejected for good"),
    ("reason", "对方理由", "Peer's reason"),
    ("code", "问题代码", "Problem code"),
    ("at", "时间", "At"),
    ("message", "消息", "Message"),
    ("failures", "连续失败", "failures in a row"),
    ("timeline", "办理全过程", "Timeline"),
    ("back", "返回总览", "Back to the overview"),
    ("role", "本方", "Our side"),
    ("requesting", "委托法院", "Requesting court"),
    ("requested", "受托法院", "Requested court"),
    ("created", "创建", "Created"),
    ("agreement", "协议", "Agreement"),
    ("history", "经过", "History"),
    ("event", "事件", "Event"),
    ("actor", "操作方", "Actor"),
    ("detail", "详情", "Detail"),
    ("trace", "追踪号", "Trace id"),
    ("deadlines", "期限", "Deadlines"),
    ("status", "状态", "Status"),
    ("met_at", "满足时间", "Met"),
    ("receipts", "回执", "Receipts"),
    ("hop", "环节", "Hop"),
    ("issuer", "签发网关", "Issuer"),
    ("messages", "消息", "Messages"),
    ("digest", "摘要", "Digest"),
    ("print_jobs", "邮寄跟踪", "Postal tracking"),
    ("print_centre", "打印中心", "Print centre"),
    ("tracking", "邮件号", "Tracking number"),
    (
        "not_found",
        "本网关没有该请求",
        "This gateway holds no such request",
    ),
    ("submission", "提交", "submission"),
    ("relay", "转递", "relay"),
    ("retrieval", "签收", "retrieval"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_wins_over_the_cookie_and_chinese_is_the_default() {
        assert_eq!(Lang::choose(Some("en"), Some("kuayu_lang=zh")), Lang::En);
        assert_eq!(Lang::choose(None, Some("a=b; kuayu_lang=en")), Lang::En);
        assert_eq!(Lang::choose(Some("fr"), None), Lang::Zh);
        assert_eq!(Lang::choose(None, None), Lang::Zh);
    }

    #[test]
    fn every_word_has_both_languages_and_keys_are_unique() {
        let mut keys = std::collections::BTreeSet::new();
        for (k, zh, en) in WORDS {
            assert!(keys.insert(k), "{k} twice");
            assert!(!zh.is_empty() && !en.is_empty(), "{k}");
        }
        assert_eq!(Lang::En.t("no_such_key"), "no_such_key");
    }
}
