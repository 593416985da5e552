"""The built-in templates (version 0) of every kind of message, in zh-CN and en (X-7), with the sample data
a preview renders them with. An organization's own versions override them (templates.rules)."""

from __future__ import annotations

LANGUAGES = ("zh-CN", "en")

_RECIPIENT = {"name": "王芳"}

# kind: (sample data, {language: (subject, body)})
BUILT_IN: dict[str, tuple[dict, dict[str, tuple[str, str]]]] = {
    "notice": (
        {"notice": {"title": "停水通知", "body": "1月15日9:00–12:00 A座停水。"}},
        {"zh-CN": ("{{ notice.title }}", "{{ recipient.name }}，您好：\n{{ notice.body }}"),
         "en": ("{{ notice.title }}", "Dear {{ recipient.name }},\n{{ notice.body }}")},
    ),
    "sla_warning": (
        {"ticket_number": "T-20270115-0001", "stage": "resolution", "due_at": "2027-01-15T18:00:00+08:00"},
        {"zh-CN": ("工单{{ ticket_number }}即将超时", "工单{{ ticket_number }}的{{ stage }}环节将于{{ due_at }}到期。"),
         "en": ("Ticket {{ ticket_number }} is nearly due",
                "The {{ stage }} stage of ticket {{ ticket_number }} is due at {{ due_at }}.")},
    ),
    "sla_breached": (
        {"ticket_number": "T-20270115-0001", "stage": "resolution", "due_at": "2027-01-15T18:00:00+08:00"},
        {"zh-CN": ("工单{{ ticket_number }}已超时", "工单{{ ticket_number }}的{{ stage }}环节已于{{ due_at }}超时，请跟进。"),
         "en": ("Ticket {{ ticket_number }} is overdue",
                "The {{ stage }} stage of ticket {{ ticket_number }} was due at {{ due_at }}; please follow up.")},
    ),
    "work_order_dispatched": (
        {"ticket_number": "T-20270115-0002", "summary": "厨房漏水", "emergency": True},
        {"zh-CN": ("{% if emergency %}[紧急]{% endif %}派工：{{ ticket_number }}", "{{ summary }}"),
         "en": ("{% if emergency %}[URGENT] {% endif %}Work order {{ ticket_number }}", "{{ summary }}")},
    ),
    "daily_review": (
        {"day": "2027-01-15", "overdue": 3, "forgotten": 1, "ticket_numbers": ["T-1", "T-2"]},
        {"zh-CN": ("{{ day }}工单日检", "超时{{ overdue }}单，遗忘{{ forgotten }}单：{{ ticket_numbers | join('、') }}"),
         "en": ("Daily review {{ day }}",
                "{{ overdue }} overdue, {{ forgotten }} forgotten: {{ ticket_numbers | join(', ') }}")},
    ),
    "handover_written": (
        {"day": "2027-01-15", "shift": "day", "open_items": 2},
        {"zh-CN": ("请接班：{{ day }} {{ shift }}班交接", "交接记录已写好，待办{{ open_items }}项，请确认接班。"),
         "en": ("Handover of the {{ shift }} shift, {{ day }}",
                "The handover record is written with {{ open_items }} open items; please acknowledge it.")},
    ),
    "emergency_alert": (
        {"kind": "fire", "title": "B座3楼烟雾报警", "place": "B座3楼", "level": 1},
        {"zh-CN": ("【重大事件】{{ title }}", "{{ place }}：{{ title }}（{{ kind }}）。请立即确认。第{{ level }}级通报。"),
         "en": ("[EMERGENCY] {{ title }}",
                "{{ place }}: {{ title }} ({{ kind }}). Acknowledge at once. Escalation level {{ level }}.")},
    ),
    "emergency_broadcast": (
        {"kind": "fire", "title": "B座3楼烟雾报警", "place": "B座3楼"},
        {"zh-CN": ("紧急通知：{{ title }}", "{{ place }}发生紧急情况：{{ title }}。请听从工作人员指引。"),
         "en": ("Emergency: {{ title }}",
                "An emergency at {{ place }}: {{ title }}. Please follow the staff's directions.")},
    ),
    "bill_issued": (
        {"period": "2027-01", "amount": "268.50", "currency": "CNY", "due_at": "2027-01-31"},
        {"zh-CN": ("{{ period }}交费通知单",
                   "{{ recipient.name }}，您{{ period }}应交{{ amount }} {{ currency }}，请于{{ due_at }}前交纳。"),
         "en": ("Payment notice {{ period }}",
                "Dear {{ recipient.name }}, {{ amount }} {{ currency }} is due for {{ period }} by {{ due_at }}.")},
    ),
    "payment_received": (
        {"amount": "268.50", "currency": "CNY", "receipt_number": "R-0001"},
        {"zh-CN": ("收款收据{{ receipt_number }}", "已收到您交纳的{{ amount }} {{ currency }}，收据号{{ receipt_number }}。"),
         "en": ("Receipt {{ receipt_number }}",
                "We received {{ amount }} {{ currency }}; receipt {{ receipt_number }}.")},
    ),
    "arrears_step": (
        {"step": "reminder", "amount_overdue": "537.00", "currency": "CNY", "months_overdue": 2, "late_fee": ""},
        {"zh-CN": ("欠费{{ '律师函' if step == 'lawyer_letter' else '催缴通知' }}",
                   "您已欠费{{ months_overdue }}个月，共{{ amount_overdue }} {{ currency }}"
                   "{% if late_fee %}，滞纳金{{ late_fee }}{% endif %}，请尽快交纳。"),
         "en": ("{{ 'Lawyer letter' if step == 'lawyer_letter' else 'Payment reminder' }}",
                "{{ amount_overdue }} {{ currency }} is {{ months_overdue }} months overdue"
                "{% if late_fee %}, late fee {{ late_fee }}{% endif %}; please pay.")},
    ),
    "prepaid_balance_low": (
        {"balance": "12.30", "threshold": "20.00", "currency": "CNY"},
        {"zh-CN": ("预付费余额不足", "您的表余额{{ balance }} {{ currency }}，已低于{{ threshold }}，请及时充值。"),
         "en": ("Prepaid balance low",
                "Your meter's balance is {{ balance }} {{ currency }}, below {{ threshold }}; please top up.")},
    ),
    "birthday": (
        {},
        {"zh-CN": ("生日快乐", "{{ recipient.name }}，祝您生日快乐！——物业服务中心"),
         "en": ("Happy birthday", "Happy birthday, {{ recipient.name }}! From your service centre.")},
    ),
    "welcome": (
        {"unit": "A-1201"},
        {"zh-CN": ("欢迎入住", "{{ recipient.name }}，欢迎入住{{ unit }}！服务中心随时为您服务。"),
         "en": ("Welcome home", "Welcome to {{ unit }}, {{ recipient.name }}! The service centre is here for you.")},
    ),
}

KINDS = tuple(BUILT_IN)


def sample(kind: str) -> dict:
    return {"recipient": _RECIPIENT, **BUILT_IN[kind][0]}
