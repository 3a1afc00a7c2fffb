//! AWS Budgets: the account's budgets, their limits, filters and notifications.

use std::collections::BTreeMap;

use aws_sdk_budgets::types::{Expression, ThresholdType, TimeUnit};

use super::{AwsContext, AwsError};

/// One budget as tacos judges it.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetFacts {
    pub name: String,
    /// The limit per month in `unit` (quarterly and yearly limits divided down, daily ones
    /// multiplied up); None for a budget planned month by month without one limit.
    pub monthly_limit: Option<f64>,
    pub unit: String,
    pub time_unit: String,
    /// The cost-allocation tags it selects, as `KEY=VALUE` (`user:` prefix dropped).
    pub tags: Vec<String>,
    pub notifications: Vec<NotificationFacts>,
}

/// One notification of a budget.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationFacts {
    /// ACTUAL or FORECASTED.
    pub kind: String,
    /// The threshold as a percentage of the limit (absolute thresholds converted).
    pub percent_of_limit: Option<f64>,
}

/// Every budget of the account, with its notifications.
pub async fn budgets(aws: &AwsContext) -> Result<Vec<BudgetFacts>, AwsError> {
    let client = aws_sdk_budgets::Client::new(&aws.config);
    let account = &aws.target.account;
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let output = client
            .describe_budgets()
            .account_id(account)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| aws.unreachable("list the account's budgets (budgets:ViewBudget)", &e))?;
        for budget in output.budgets.unwrap_or_default() {
            let limit = budget.budget_limit.as_ref();
            let amount = limit.and_then(|l| l.amount.parse::<f64>().ok());
            let months = match budget.time_unit {
                TimeUnit::Daily => 12.0 / 365.0,
                TimeUnit::Quarterly => 3.0,
                TimeUnit::Annually => 12.0,
                _ => 1.0,
            };
            // CostFilters is deprecated for FilterExpression, but budgets made before it still use it.
            #[allow(deprecated)]
            let mut tags: Vec<String> = budget
                .cost_filters
                .as_ref()
                .and_then(|f| f.get("TagKeyValue"))
                .into_iter()
                .flatten()
                .filter_map(|pair| tag_of_filter(pair))
                .collect();
            if let Some(expression) = &budget.filter_expression {
                tags_of_expression(expression, &mut tags);
            }
            let notifications = client
                .describe_notifications_for_budget()
                .account_id(account)
                .budget_name(&budget.budget_name)
                .send()
                .await
                .map_err(|e| {
                    aws.unreachable(
                        &format!("read the notifications of budget {}", budget.budget_name),
                        &e,
                    )
                })?
                .notifications
                .unwrap_or_default()
                .into_iter()
                .map(|n| NotificationFacts {
                    kind: n.notification_type.as_str().to_string(),
                    percent_of_limit: match n.threshold_type {
                        Some(ThresholdType::AbsoluteValue) => {
                            amount.filter(|a| *a > 0.0).map(|a| n.threshold / a * 100.0)
                        }
                        _ => Some(n.threshold),
                    },
                })
                .collect();
            all.push(BudgetFacts {
                name: budget.budget_name.clone(),
                monthly_limit: amount.map(|a| a / months),
                unit: limit.map(|l| l.unit.clone()).unwrap_or_default(),
                time_unit: budget.time_unit.as_str().to_string(),
                tags,
                notifications,
            });
        }
        match output.next_token {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(all),
        }
    }
}

/// `user:Project$traffic-tacos` (a TagKeyValue cost filter) as `Project=traffic-tacos`.
fn tag_of_filter(pair: &str) -> Option<String> {
    let (key, value) = pair.split_once('$')?;
    Some(format!("{}={value}", key.trim_start_matches("user:")))
}

fn tags_of_expression(expression: &Expression, tags: &mut Vec<String>) {
    if let Some(tag) = &expression.tags
        && let Some(key) = &tag.key
    {
        for value in tag.values() {
            tags.push(format!("{}={value}", key.trim_start_matches("user:")));
        }
    }
    for inner in expression.and() {
        tags_of_expression(inner, tags);
    }
}

/// Budgets by name, for messages that list what the account has.
pub fn names(budgets: &[BudgetFacts]) -> String {
    let names: BTreeMap<&str, ()> = budgets.iter().map(|b| (b.name.as_str(), ())).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.into_keys().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::tag_of_filter;

    #[test]
    fn tag_filters_read_as_key_equals_value() {
        assert_eq!(
            tag_of_filter("user:Project$traffic-tacos").as_deref(),
            Some("Project=traffic-tacos")
        );
        assert_eq!(tag_of_filter("Team$a").as_deref(), Some("Team=a"));
        assert_eq!(tag_of_filter("nodollar"), None);
    }
}
