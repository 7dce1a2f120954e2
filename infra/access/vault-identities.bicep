// The object ids of the Backup vaults' system-assigned identities: the only principals the
// app's delegated RBAC Administrator may grant roles to (see rbac-admin-on-group.bicep).
// Vaults that restore with a user-assigned identity instead: set vaultPrincipalIds in
// main.bicep, and this module is not deployed.

targetScope = 'subscription'

@description('Resource ids of the Backup vaults.')
param backupVaultIds array

output principalIds array = [for id in backupVaultIds: reference(id, '2024-04-01', 'full').identity.principalId]
