"""Stand-ins for the outside world, for ``make run``, the demo and the tests: a CRM and a shop API.

``botdesk crm-stub`` receives lead cards the way a CRM's webhook would (``crm``, kept in
``crm_store``); ``botdesk shop-stub`` answers order lookups the way a shop's API would
(``shop``). Both can be told to fail, so the outage paths can be tried for real. They are
developer tools at the top of the package graph: nothing in botdesk's own path imports them.
"""
