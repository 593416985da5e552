"""The staff roles tokens and the staff directory name (SPEC §0): the vocabulary of every service's authority
checks. A user holds roles per site; a check uses the role held at the record's site
(`shared.auth.require_role_at`)."""

GENERAL_MANAGER = "general_manager"
PROPERTY_MANAGER = "property_manager"
SITE_MANAGER = "site_manager"
CS_SUPERVISOR = "cs_supervisor"
CS_SPECIALIST = "cs_specialist"
STEWARD = "steward"
CASHIER = "cashier"
TECHNICIAN = "technician"
SECURITY_GUARD = "security_guard"
NIGHT_DUTY = "night_duty"
COMPANY_OFFICE = "company_office"

ALL = (GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER, CS_SUPERVISOR, CS_SPECIALIST, STEWARD, CASHIER,
       TECHNICIAN, SECURITY_GUARD, NIGHT_DUTY, COMPANY_OFFICE)
MANAGERS = (GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER)
CUSTOMER_SERVICE = (*MANAGERS, CS_SUPERVISOR, CS_SPECIALIST, STEWARD)
