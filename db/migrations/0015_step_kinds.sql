-- Steps now carry their kind (automated, human, device, waiting), set by the workflow code
-- that opens them; metrics read it. Steps projected before that get the kind their name
-- had in the metrics' old list; a run still in flight rewrites its steps, kinds included,
-- at its next change.
UPDATE `requests` SET `steps` = (
  SELECT json_group_array(json(json_insert(s.value, '$.kind', CASE
    WHEN json_extract(s.value, '$.name') GLOB 'approval_level_[0-9]*'
      OR json_extract(s.value, '$.name') IN ('service_desk_answer', 'requester_details', 'supplier_order', 'shipment', 'delivery', 'owner_acknowledges', 'owner_replies', 'operator_retry', 'operator_decision')
      THEN 'human'
    WHEN json_extract(s.value, '$.name') = 'deploy' THEN 'device'
    WHEN json_extract(s.value, '$.name') = 'wait_for_license_seat'
      OR json_extract(s.value, '$.name') GLOB 'item_*'
      THEN 'waiting'
    ELSE 'automated'
  END)) ORDER BY s.key)
  FROM json_each(`requests`.`steps`) AS s
)
WHERE json_array_length(`steps`) > 0;
